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

impl Fault {
    /// The HTTP status every front door answers with.
    pub fn http_status(self) -> u16 {
        match self {
            Fault::Invalid => 400,
            Fault::Forbidden => 403,
            Fault::NotFound => 404,
            Fault::Conflict => 409,
            Fault::Upstream => 502,
            Fault::Internal => 500,
        }
    }
}

/// What a caller without a session is told.
pub const SESSION_ENDED: &str = "Your session has ended. Sign in again.";

/// What a caller below the role an operation needs is told.
pub fn role_needed(needed: crate::Role, has: crate::Role) -> String {
    format!("This needs the {} role; you are signed in as {}.", needed.label(), has.label())
}

/// What a caller sees for an internal failure, whose detail stays in the log.
pub const INTERNAL_MESSAGE: &str = "The server could not complete this. Details are in its log.";

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
