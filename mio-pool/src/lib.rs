//! A worker pool collectively handling a set of connections (work in progress).
