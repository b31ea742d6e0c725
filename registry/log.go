package registry

import (
	"io"

	"github.com/sirupsen/logrus"
)

// ConfigureLogging sets up distribution's logging, which goes through the
// process-wide logrus logger: with debug, everything distribution says;
// otherwise only its warnings and errors, minus the per-request "response
// completed with error" lines for client errors (404 on a HEAD is how every
// client asks "do you have this?"); the request log says those more briefly.
func ConfigureLogging(w io.Writer, debug bool) {
	logrus.SetOutput(w)
	if debug {
		logrus.SetLevel(logrus.DebugLevel)
		logrus.SetFormatter(&logrus.TextFormatter{})
		return
	}
	logrus.SetLevel(logrus.WarnLevel)
	logrus.SetFormatter(quietFormatter{&logrus.TextFormatter{}})
}

// quietFormatter drops distribution's log lines about 4xx responses.
type quietFormatter struct{ logrus.Formatter }

func (f quietFormatter) Format(e *logrus.Entry) ([]byte, error) {
	if status, ok := e.Data["http.response.status"].(int); ok && status >= 400 && status < 500 {
		return nil, nil
	}
	if e.Message == "error authorizing context: basic authentication challenge for realm \"polyarch\": invalid authorization credential" {
		return nil, nil
	}
	return f.Formatter.Format(e)
}
