//! Shared code of the example servers (work in progress).
