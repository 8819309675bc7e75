//! callrec-meta: see the workspace README.
