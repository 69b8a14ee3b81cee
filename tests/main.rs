//! End-to-end tests: both servers in-process on port 0, driven over HTTP.
