//! Integration tests on loopback: the ACS download simulator, and Azurite for the queue loop.

mod common;
mod download;
mod worker;
