//! The edgepurge console.
