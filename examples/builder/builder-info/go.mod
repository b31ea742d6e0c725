module maistra.io/builder-info

go 1.26
