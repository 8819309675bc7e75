//! callrec-stitch: see the workspace README.
