//! callrec: see the workspace README.
