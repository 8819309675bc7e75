//! Tests of the batch job.
