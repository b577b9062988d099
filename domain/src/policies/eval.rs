//! Evaluation: who a selector and rules match, and the decision for an application's
//! policies. Pure and in memory; nothing here touches the database.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::model::{Action, GroupRef, Policy, Rules, Selector};

/// What evaluation needs to know about a person.
pub trait Facts {
    /// The identity provider they signed in with (or that their directory entry comes from).
    fn provider_id(&self) -> Option<&str>;
    /// The provider's id for them (Okta: 00u…, the ID token's `sub`).
    fn external_id(&self) -> Option<&str>;
    /// Lower-cased (ASCII letters only: see [`crate::accounts::fold_email`]).
    fn email(&self) -> &str;
    /// Whether the provider vouches for the email (an `email_verified` claim, or a provider
    /// that asserts verified emails). Email and Email-domain selectors match only then.
    fn email_verified(&self) -> bool;
    fn in_group(&self, group: &GroupRef) -> bool;
}

/// The person a decision is for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// `None` for a local console account.
    pub provider_id: Option<String>,
    pub external_id: Option<String>,
    /// Lower-cased by [`Subject::new`].
    pub email: String,
    /// See [`Facts::email_verified`]. False unless the caller says so: an unproven email
    /// matches no email rule.
    #[serde(default)]
    pub email_verified: bool,
    /// Their groups by provider id; Okta's built-in Everyone included when known.
    pub groups: HashSet<GroupRef>,
}

impl Subject {
    pub fn new(
        provider_id: Option<String>,
        external_id: Option<String>,
        email: &str,
        groups: impl IntoIterator<Item = GroupRef>,
    ) -> Self {
        Self {
            provider_id,
            external_id,
            email: crate::accounts::fold_email(email),
            email_verified: false,
            groups: groups.into_iter().collect(),
        }
    }

    /// The same subject, with the email vouched for (or not).
    pub fn with_verified_email(mut self, verified: bool) -> Self {
        self.email_verified = verified;
        self
    }
}

impl Facts for Subject {
    fn provider_id(&self) -> Option<&str> {
        self.provider_id.as_deref()
    }
    fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
    fn email(&self) -> &str {
        &self.email
    }
    fn email_verified(&self) -> bool {
        self.email_verified
    }
    fn in_group(&self, group: &GroupRef) -> bool {
        self.groups.contains(group)
    }
}

/// Whether a selector matches a person. A trait because `Selector` lives in the wire-types crate.
pub trait Matches {
    fn matches<F: Facts + ?Sized>(&self, who: &F) -> bool;
}

impl Matches for Selector {
    fn matches<F: Facts + ?Sized>(&self, who: &F) -> bool {
        match self {
            Selector::Everyone => true,
            Selector::Group(g) => who.in_group(g),
            // Selectors are stored lower-cased; the subject's email should be too, but an
            // ASCII case-insensitive comparison costs nothing and forgives a caller that forgot.
            // Only a vouched-for email: anyone may claim any address at a self-service provider.
            // ASCII-only case folding: a non-ASCII character never becomes an ASCII one.
            Selector::Email { email } => who.email_verified() && who.email().eq_ignore_ascii_case(email),
            Selector::EmailDomain { domain } => {
                who.email_verified()
                    && who
                        .email()
                        .rsplit_once('@')
                        .is_some_and(|(local, d)| !local.is_empty() && d.eq_ignore_ascii_case(domain))
            }
            Selector::User(u) => {
                who.provider_id() == Some(u.provider_id.as_str()) && who.external_id() == Some(u.external_id.as_str())
            }
            Selector::IdentityProvider { provider_id } => who.provider_id() == Some(provider_id.as_str()),
        }
    }
}

/// How rules met a person; indexes point into the rules' lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleCheck {
    Matched { include: usize },
    NotIncluded,
    MissingRequirement { require: usize },
    Excluded { exclude: usize },
}

impl Rules {
    /// Include any, require all, exclude none.
    pub fn matches<F: Facts + ?Sized>(&self, who: &F) -> bool {
        self.include.iter().any(|s| s.matches(who))
            && self.require.iter().all(|s| s.matches(who))
            && !self.exclude.iter().any(|s| s.matches(who))
    }

    /// The same as [`Rules::matches`], saying which rule decided.
    pub fn check<F: Facts + ?Sized>(&self, who: &F) -> RuleCheck {
        let Some(include) = self.include.iter().position(|s| s.matches(who)) else {
            return RuleCheck::NotIncluded;
        };
        if let Some(require) = self.require.iter().position(|s| !s.matches(who)) {
            return RuleCheck::MissingRequirement { require };
        }
        if let Some(exclude) = self.exclude.iter().position(|s| s.matches(who)) {
            return RuleCheck::Excluded { exclude };
        }
        RuleCheck::Matched { include }
    }
}

/// The result of evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Block,
    Bypass,
    /// No policy matched: blocked.
    NoMatch,
}

impl Outcome {
    /// Whether the request may go through.
    pub fn permits(self) -> bool {
        matches!(self, Outcome::Allow | Outcome::Bypass)
    }
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Allow => "Allowed",
            Outcome::Block => "Blocked",
            Outcome::Bypass => "Bypassed",
            Outcome::NoMatch => "Blocked: no policy matched",
        }
    }
    fn of(action: Action) -> Self {
        match action {
            Action::Allow => Outcome::Allow,
            Action::Block => Outcome::Block,
            Action::Bypass => Outcome::Bypass,
        }
    }
}

/// The evaluation order of policies sorted by position: enabled or not, Bypass and Block
/// first, then Allow, each group in position order.
pub fn evaluation_order(policies: &[Policy]) -> Vec<usize> {
    let first = (0..policies.len()).filter(|&i| policies[i].action.goes_first());
    let then = (0..policies.len()).filter(|&i| !policies[i].action.goes_first());
    first.chain(then).collect()
}

/// The decision: the first enabled policy in evaluation order whose rules match.
/// `order` comes from [`evaluation_order`].
pub fn decide_in<'a, F: Facts + ?Sized>(
    policies: &'a [Policy],
    order: &[usize],
    who: &F,
) -> (Outcome, Option<&'a Policy>) {
    for &i in order {
        let p = &policies[i];
        if p.enabled && p.rules.matches(who) {
            return (Outcome::of(p.action), Some(p));
        }
    }
    (Outcome::NoMatch, None)
}

/// What a policy did in an explained decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepResult {
    /// It matched and decided.
    Matched { included_by: Selector },
    /// None of its Include rules matched.
    NotIncluded,
    /// An Include rule matched but this Require rule did not.
    RequirementNotMet { selector: Selector },
    /// Its rules matched but this Exclude rule did too.
    Excluded { selector: Selector },
    /// Skipped: the policy is disabled.
    Disabled,
    /// Not looked at: an earlier policy decided.
    NotReached,
}

/// One policy in an explained decision, in evaluation order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Step {
    pub policy_id: String,
    pub policy_name: String,
    pub action: Action,
    /// As arranged by the admin, from 1.
    pub number: u32,
    pub result: StepResult,
    /// The result in words, with current group and user names.
    pub reason: String,
}

/// A decision with the reasons, for "Test a user".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Decision {
    pub outcome: Outcome,
    pub application_id: String,
    pub application_name: String,
    pub policy_id: Option<String>,
    pub policy_name: Option<String>,
    /// One sentence: the outcome and why.
    pub summary: String,
    /// Every policy in evaluation order (Bypass and Block first).
    pub steps: Vec<Step>,
}

/// Explains the decision for `who`. `label` names a selector (with current group names in
/// the service; [`Selector::plain_label`] without the directory).
pub fn explain<F: Facts + ?Sized>(
    application_id: &str,
    application_name: &str,
    policies: &[Policy],
    order: &[usize],
    who: &F,
    label: &dyn Fn(&Selector) -> String,
) -> Decision {
    let mut steps = Vec::with_capacity(order.len());
    let mut decided: Option<&Policy> = None;
    for &i in order {
        let p = &policies[i];
        let (result, reason) = if decided.is_some() {
            (StepResult::NotReached, "Not evaluated: an earlier policy decided.".to_string())
        } else if !p.enabled {
            (StepResult::Disabled, "Skipped: the policy is disabled.".to_string())
        } else {
            match p.rules.check(who) {
                RuleCheck::Matched { include } => {
                    decided = Some(p);
                    let s = &p.rules.include[include];
                    let mut reason = format!("Matched: included by {}", label(s));
                    if !p.rules.require.is_empty() {
                        reason.push_str("; every Require rule met");
                    }
                    if !p.rules.exclude.is_empty() {
                        reason.push_str("; no Exclude rule matched");
                    }
                    reason.push('.');
                    (StepResult::Matched { included_by: s.clone() }, reason)
                }
                RuleCheck::NotIncluded => {
                    (StepResult::NotIncluded, "No match: none of its Include rules applies to this person.".to_string())
                }
                RuleCheck::MissingRequirement { require } => {
                    let s = &p.rules.require[require];
                    (
                        StepResult::RequirementNotMet { selector: s.clone() },
                        format!("No match: requires {}, which this person does not meet.", label(s)),
                    )
                }
                RuleCheck::Excluded { exclude } => {
                    let s = &p.rules.exclude[exclude];
                    (StepResult::Excluded { selector: s.clone() }, format!("No match: excluded by {}.", label(s)))
                }
            }
        };
        steps.push(Step {
            policy_id: p.id.clone(),
            policy_name: p.name.clone(),
            action: p.action,
            number: p.position + 1,
            result,
            reason,
        });
    }
    let (outcome, summary) = match decided {
        Some(p) => {
            let outcome = Outcome::of(p.action);
            let why = steps.iter().find(|s| s.policy_id == p.id).map(|s| s.reason.clone()).unwrap_or_default();
            (
                outcome,
                format!("{} by policy #{} '{}' ({}). {why}", outcome.label(), p.position + 1, p.name, p.action.label()),
            )
        }
        None if policies.is_empty() => (Outcome::NoMatch, "Blocked: the application has no policies yet.".to_string()),
        None if policies.iter().all(|p| !p.enabled) => {
            (Outcome::NoMatch, "Blocked: every policy of the application is disabled.".to_string())
        }
        None => {
            (Outcome::NoMatch, "Blocked: no policy matched this person; see each policy below for why.".to_string())
        }
    };
    Decision {
        outcome,
        application_id: application_id.to_string(),
        application_name: application_name.to_string(),
        policy_id: decided.map(|p| p.id.clone()),
        policy_name: decided.map(|p| p.name.clone()),
        summary,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::model::UserRef;

    fn g(id: &str) -> GroupRef {
        GroupRef { provider_id: "okta".into(), external_id: id.into() }
    }

    fn ann() -> Subject {
        Subject::new(Some("okta".into()), Some("00u1".into()), "Ann@Example.com", [g("00gEng"), g("00gAll")])
            .with_verified_email(true)
    }

    fn local() -> Subject {
        Subject::new(None, None, "root@example.com", []).with_verified_email(true)
    }

    fn policy(pos: u32, action: Action, rules: Rules) -> Policy {
        Policy {
            id: format!("p{pos}"),
            application_id: "app".into(),
            position: pos,
            name: format!("policy {pos}"),
            action,
            rules,
            enabled: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn include(s: Selector) -> Rules {
        Rules { include: vec![s], ..Default::default() }
    }

    #[test]
    fn everyone_matches_anyone_signed_in() {
        assert!(Selector::Everyone.matches(&ann()));
        assert!(Selector::Everyone.matches(&local()));
    }

    #[test]
    fn a_group_matches_by_provider_and_external_id() {
        assert!(Selector::Group(g("00gEng")).matches(&ann()));
        assert!(!Selector::Group(g("00gOps")).matches(&ann()));
        // The same external id from another provider is another group.
        let other = GroupRef { provider_id: "other".into(), external_id: "00gEng".into() };
        assert!(!Selector::Group(other).matches(&ann()));
    }

    #[test]
    fn email_matching_ignores_case_and_nothing_else() {
        assert!(Selector::Email { email: "ann@example.com".into() }.matches(&ann()));
        let mut shouting = ann();
        shouting.email = "ANN@EXAMPLE.COM".into();
        assert!(Selector::Email { email: "ann@example.com".into() }.matches(&shouting));
        assert!(!Selector::Email { email: "ann@example.co".into() }.matches(&ann()));
        assert!(!Selector::Email { email: "nn@example.com".into() }.matches(&ann()));
    }

    #[test]
    fn a_domain_matches_exactly_the_part_after_the_at_sign() {
        let d = |d: &str| Selector::EmailDomain { domain: d.into() };
        assert!(d("example.com").matches(&ann()));
        assert!(d("EXAMPLE.com").matches(&ann()));
        assert!(!d("ample.com").matches(&ann()));
        assert!(!d("com").matches(&ann()));
        let sub = Subject::new(None, None, "bob@eu.example.com", []).with_verified_email(true);
        assert!(!d("example.com").matches(&sub), "sub-domains are other domains");
        let tricky = Subject::new(None, None, "example.com@evil.test", []).with_verified_email(true);
        assert!(!d("example.com").matches(&tricky));
        let no_at = Subject::new(None, None, "example.com", []).with_verified_email(true);
        assert!(!d("example.com").matches(&no_at));
    }

    #[test]
    fn email_rules_match_only_a_verified_email() {
        let unverified = ann().with_verified_email(false);
        assert!(!Selector::Email { email: "ann@example.com".into() }.matches(&unverified));
        assert!(!Selector::EmailDomain { domain: "example.com".into() }.matches(&unverified));
        // Other selectors do not care.
        assert!(Selector::Group(g("00gEng")).matches(&unverified));
        assert!(Selector::Everyone.matches(&unverified));
    }

    #[test]
    fn the_kelvin_sign_is_not_the_letter_k() {
        let kelvin = Subject::new(None, None, "\u{212A}im@example.com", []).with_verified_email(true);
        assert_eq!(kelvin.email, "\u{212A}im@example.com");
        assert!(!Selector::Email { email: "kim@example.com".into() }.matches(&kelvin));
        let domain = Subject::new(None, None, "ann@\u{212A}orp.com", []).with_verified_email(true);
        assert!(!Selector::EmailDomain { domain: "korp.com".into() }.matches(&domain));
    }

    #[test]
    fn a_user_matches_by_provider_and_external_id() {
        let u = |p: &str, e: &str| Selector::User(UserRef { provider_id: p.into(), external_id: e.into() });
        assert!(u("okta", "00u1").matches(&ann()));
        assert!(!u("okta", "00u2").matches(&ann()));
        assert!(!u("other", "00u1").matches(&ann()));
        assert!(!u("okta", "00u1").matches(&local()));
    }

    #[test]
    fn an_identity_provider_matches_who_signed_in_with_it() {
        let idp = |p: &str| Selector::IdentityProvider { provider_id: p.into() };
        assert!(idp("okta").matches(&ann()));
        assert!(!idp("other").matches(&ann()));
        assert!(!idp("okta").matches(&local()));
    }

    #[test]
    fn include_any_require_all_exclude_none() {
        let eng = Selector::Group(g("00gEng"));
        let ops = Selector::Group(g("00gOps"));
        let domain = Selector::EmailDomain { domain: "example.com".into() };
        let r = |include: Vec<Selector>, require: Vec<Selector>, exclude: Vec<Selector>| Rules {
            include,
            require,
            exclude,
        };
        assert_eq!(r(vec![ops.clone(), eng.clone()], vec![], vec![]).check(&ann()), RuleCheck::Matched { include: 1 });
        assert_eq!(r(vec![ops.clone()], vec![], vec![]).check(&ann()), RuleCheck::NotIncluded);
        assert_eq!(r(vec![], vec![], vec![]).check(&ann()), RuleCheck::NotIncluded, "no Include matches no one");
        assert_eq!(
            r(vec![Selector::Everyone], vec![domain.clone(), ops.clone()], vec![]).check(&ann()),
            RuleCheck::MissingRequirement { require: 1 }
        );
        assert!(r(vec![Selector::Everyone], vec![domain.clone(), eng.clone()], vec![]).matches(&ann()));
        assert_eq!(r(vec![domain], vec![], vec![ops, eng]).check(&ann()), RuleCheck::Excluded { exclude: 1 });
    }

    #[test]
    fn bypass_and_block_go_before_allow_whatever_their_position() {
        let policies = vec![
            policy(0, Action::Allow, include(Selector::Everyone)),
            policy(1, Action::Block, include(Selector::Group(g("00gEng")))),
            policy(2, Action::Bypass, include(Selector::Email { email: "ann@example.com".into() })),
        ];
        let order = evaluation_order(&policies);
        assert_eq!(order, vec![1, 2, 0]);
        let (outcome, p) = decide_in(&policies, &order, &ann());
        assert_eq!((outcome, p.map(|p| p.id.as_str())), (Outcome::Block, Some("p1")));
        // Someone the Block does not match falls through to Allow.
        let (outcome, p) = decide_in(&policies, &order, &local());
        assert_eq!((outcome, p.map(|p| p.id.as_str())), (Outcome::Allow, Some("p0")));
    }

    #[test]
    fn among_bypass_and_block_the_first_by_position_wins() {
        let policies = vec![
            policy(0, Action::Bypass, include(Selector::Everyone)),
            policy(1, Action::Block, include(Selector::Everyone)),
        ];
        assert_eq!(decide_in(&policies, &evaluation_order(&policies), &ann()).0, Outcome::Bypass);
    }

    #[test]
    fn allow_policies_go_in_order_and_no_match_blocks() {
        let mut policies = vec![
            policy(0, Action::Allow, include(Selector::Group(g("00gOps")))),
            policy(1, Action::Allow, include(Selector::Group(g("00gEng")))),
            policy(2, Action::Allow, include(Selector::EmailDomain { domain: "example.com".into() })),
        ];
        let order = evaluation_order(&policies);
        assert_eq!(decide_in(&policies, &order, &ann()).1.map(|p| p.position), Some(1));
        assert_eq!(decide_in(&policies, &order, &local()).1.map(|p| p.position), Some(2));
        let stranger = Subject::new(None, None, "x@elsewhere.test", []);
        assert_eq!(decide_in(&policies, &order, &stranger), (Outcome::NoMatch, None));
        assert!(!Outcome::NoMatch.permits());
        policies[1].enabled = false;
        assert_eq!(
            decide_in(&policies, &order, &ann()).1.map(|p| p.position),
            Some(2),
            "disabled policies are skipped"
        );
        assert_eq!(decide_in(&[], &[], &ann()), (Outcome::NoMatch, None));
    }

    #[test]
    fn the_explanation_names_the_policy_and_rule_or_why_each_failed() {
        let policies = vec![
            policy(
                0,
                Action::Allow,
                Rules {
                    include: vec![Selector::Group(g("00gEng"))],
                    require: vec![Selector::EmailDomain { domain: "corp.test".into() }],
                    exclude: vec![],
                },
            ),
            policy(
                1,
                Action::Block,
                Rules {
                    include: vec![Selector::Everyone],
                    exclude: vec![Selector::Email { email: "ann@example.com".into() }],
                    ..Default::default()
                },
            ),
            policy(2, Action::Allow, include(Selector::Group(g("00gAll")))),
            policy(3, Action::Allow, include(Selector::Everyone)),
        ];
        let label = |s: &Selector| s.plain_label();
        let d = explain("app", "Wiki", &policies, &evaluation_order(&policies), &ann(), &label);
        assert_eq!(d.outcome, Outcome::Allow);
        assert_eq!(d.policy_id.as_deref(), Some("p2"));
        let results: Vec<&StepResult> = d.steps.iter().map(|s| &s.result).collect();
        assert_eq!(
            results,
            vec![
                &StepResult::Excluded { selector: Selector::Email { email: "ann@example.com".into() } },
                &StepResult::RequirementNotMet { selector: Selector::EmailDomain { domain: "corp.test".into() } },
                &StepResult::Matched { included_by: Selector::Group(g("00gAll")) },
                &StepResult::NotReached,
            ]
        );
        assert!(d.summary.contains("policy #3 'policy 2'"), "{}", d.summary);
        assert!(d.summary.contains("Group 00gAll"), "{}", d.summary);

        let none = explain("app", "Wiki", &policies[..1], &[0], &local(), &label);
        assert_eq!(none.outcome, Outcome::NoMatch);
        assert_eq!(none.steps[0].result, StepResult::NotIncluded);
        assert!(none.summary.contains("no policy matched"));
        assert!(explain("app", "Wiki", &[], &[], &ann(), &label).summary.contains("no policies yet"));
    }
}
