//! What can go wrong with applications, policies and their import, and the limits those
//! messages name. Its own module so validation and import/export both use it without
//! importing each other.

use crate::store::StoreError;

pub const MIN_SESSION_MINUTES: u32 = 5;
/// 30 days.
pub const MAX_SESSION_MINUTES: u32 = 43_200;
pub const DEFAULT_SESSION_MINUTES: u32 = 1_440;
pub const MAX_HOSTS: usize = 50;
pub const MAX_POLICIES: usize = 200;
pub const MAX_SELECTORS: usize = 200;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("No such application: it may have been deleted.")]
    ApplicationNotFound,
    #[error("No such policy: it may have been deleted.")]
    PolicyNotFound,
    #[error("No such directory user: they may have been removed by a sync.")]
    UserNotFound,
    #[error("Pick a user to test.")]
    NoTestUser,
    #[error("No active directory user matches '{0}'.")]
    NoUserMatches(String),
    #[error("{count} users match '{query}': pick one from the list, or enter a full email address.")]
    SeveralUsersMatch { count: usize, query: String },
    #[error("Enter a name of 1 to 100 characters.")]
    BadName,
    #[error("An application named '{0}' exists already; choose another name.")]
    ApplicationNameTaken(String),
    #[error("This application already has a policy named '{0}'; choose another name.")]
    PolicyNameTaken(String),
    #[error("Add at least one hostname the application answers on.")]
    NoHosts,
    #[error("An application can have at most {max} hostnames and path prefixes.", max = MAX_HOSTS)]
    TooManyHosts,
    #[error("The hostname '{host}' is not valid: {why}")]
    BadHostname { host: String, why: &'static str },
    #[error("The path prefix '{prefix}' is not valid: {why}")]
    BadPathPrefix { prefix: String, why: &'static str },
    #[error("'{0}' is listed twice; remove one.")]
    DuplicateHost(String),
    #[error("'{host}' already belongs to the application '{application}'; one hostname and path prefix go to one application.")]
    HostTaken { host: String, application: String },
    #[error("The session duration must be between {min} minutes and {max} minutes (30 days); {0} is not.", min = MIN_SESSION_MINUTES, max = MAX_SESSION_MINUTES)]
    SessionDuration(u32),
    #[error("Add at least one Include rule: a policy matches people who meet one of them. Use Everyone to match all signed-in people.")]
    EmptyInclude,
    #[error("{part} has more than {max} rules; use a group instead of listing people one by one.", max = MAX_SELECTORS)]
    TooManySelectors { part: &'static str },
    #[error("An application can have at most {max} policies.", max = MAX_POLICIES)]
    TooManyPolicies,
    #[error("'{0}' is not an email address: enter one like name@example.com.")]
    BadEmail(String),
    #[error("'{0}' is not an email domain: enter the part after '@', like example.com.")]
    BadEmailDomain(String),
    #[error(
        "Exclude: Everyone would exclude everyone, so the policy could never match; remove it or disable the policy."
    )]
    EveryoneExcluded,
    #[error("The group {external_id} is not in the synced directory of that provider{}; pick a group from the list, or sync the directory first.", .hint.as_deref().map(|h| format!(" (it was '{h}')")).unwrap_or_default())]
    UnknownGroup { external_id: String, hint: Option<String> },
    #[error("The user {external_id} is not in the synced directory of that provider; pick a user from the list, or sync the directory first.")]
    UnknownUser { external_id: String },
    #[error("The identity provider {0} does not exist; pick one from the list.")]
    UnknownProvider(String),
    #[error("The new order must list each of the application's policies exactly once; reload the page and try again.")]
    BadOrder,
    #[error("This is not a policy export: {0}")]
    BadDocument(String),
    #[error("This export is format version {0}; this Portcullis reads version {current}.", current = super::model::FORMAT_VERSION)]
    UnsupportedVersion(u32),
    #[error("Importing into a new application needs the export's \"application\" section (name and hostnames).")]
    ImportNeedsApplication,
    #[error("Policy {} ('{name}') in the file: {source}", .index + 1)]
    ImportPolicy { index: usize, name: String, source: Box<PolicyError> },
    #[error("The export's application: {0}")]
    ImportApplication(Box<PolicyError>),
    #[error("The file's rules use the provider '{name}' ({issuer}), and several providers here match it: choose which one stands for it.")]
    ProviderChoiceNeeded { name: String, issuer: String },
    #[error("The file's rules use the provider '{name}' ({issuer}), which is not connected here: connect it first, or choose which provider stands for it.")]
    ProviderNotConnected { name: String, issuer: String },
    #[error(transparent)]
    Store(StoreError),
}

// The same statuses the policy server functions answer with today: a store failure is ours,
// a missing row is 404, a clash with another row is 409, everything else is input to fix.
impl crate::error::Classify for PolicyError {
    fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            PolicyError::Store(_) => Fault::Internal,
            PolicyError::ApplicationNotFound
            | PolicyError::PolicyNotFound
            | PolicyError::UserNotFound
            | PolicyError::NoUserMatches(_) => Fault::NotFound,
            PolicyError::ApplicationNameTaken(_) | PolicyError::PolicyNameTaken(_) | PolicyError::HostTaken { .. } => {
                Fault::Conflict
            }
            _ => Fault::Invalid,
        }
    }
}

impl From<StoreError> for PolicyError {
    fn from(e: StoreError) -> Self {
        PolicyError::Store(e)
    }
}
