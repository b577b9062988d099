//! What kind of failure a domain error is, so that every front door (server functions, the
//! forward-auth handler, the REST API to come) answers it the same way from one mapping.

/// The caller's view of a failure: whether they can fix it, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The input is not valid (400): the message says what to change.
    Invalid,
    /// The caller's role does not allow this (403).
    Forbidden,
    /// What the caller named does not exist, or no longer does (404).
    NotFound,
    /// It clashes with what is stored: a name in use, a run already going (409).
    Conflict,
    /// A provider or other outside service failed or could not be reached (502).
    Upstream,
    /// Our fault: storage, crypto, a bug (500). The message stays in the log; the caller
    /// sees only that the server could not complete the request.
    Internal,
}

/// Implemented by every domain error that reaches a caller.
pub trait Classify: std::error::Error {
    fn fault(&self) -> Fault;

    /// Whether the message is for the log only.
    fn is_internal(&self) -> bool {
        self.fault() == Fault::Internal
    }

    /// What the caller is shown for a fault that is not internal: the error, and what to do
    /// about it where the error's own words do not say.
    fn message(&self) -> String {
        self.to_string()
    }
}
