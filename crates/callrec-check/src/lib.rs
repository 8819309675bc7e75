//! callrec-check: see the workspace README.
