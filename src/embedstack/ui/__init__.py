"""Static files of the browser page (served by `embedstack.server.ui`)."""
