//! Okta's `filter` and `search` expression language (okta-api.md §4.2, §4.5): a SCIM-like
//! grammar with case-insensitive operators, `and`/`or`/`not`, parentheses and quoted values.
//! Each endpoint accepts a subset ([`Dialect`]); anything outside it is `E0000031`.

use std::borrow::Cow;

use crate::util::parse_ts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    Sw,
    Co,
    Pr,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Expr {
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Cmp { attr: String, op: Op, value: Literal },
}

#[derive(Debug, PartialEq)]
pub(crate) struct FilterError;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
    Str(String),
}

fn tokenize(s: &str) -> Result<Vec<Tok>, FilterError> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::LParen);
            }
            ')' => {
                chars.next();
                out.push(Tok::RParen);
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some(e) => v.push(e),
                            None => return Err(FilterError),
                        },
                        Some('"') => break,
                        Some(ch) => v.push(ch),
                        None => return Err(FilterError),
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&ch) = chars.peek() {
                    if ch.is_whitespace() || ch == '(' || ch == ')' || ch == '"' {
                        break;
                    }
                    w.push(ch);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<String> {
        match self.toks.get(self.pos) {
            Some(Tok::Word(w)) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    fn or_expr(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.and_expr()?;
        while self.peek_word().as_deref() == Some("or") {
            self.pos += 1;
            let right = self.and_expr()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self) -> Result<Expr, FilterError> {
        let mut left = self.unary()?;
        while self.peek_word().as_deref() == Some("and") {
            self.pos += 1;
            let right = self.unary()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, FilterError> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("not") => {
                self.pos += 1;
                Ok(Expr::Not(Box::new(self.unary()?)))
            }
            Some(Tok::LParen) => {
                self.pos += 1;
                let e = self.or_expr()?;
                if self.toks.get(self.pos) != Some(&Tok::RParen) {
                    return Err(FilterError);
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(attr)) => {
                self.pos += 1;
                let op = match self.peek_word().as_deref() {
                    Some("eq") => Op::Eq,
                    Some("ne") => Op::Ne,
                    Some("gt") => Op::Gt,
                    Some("ge") => Op::Ge,
                    Some("lt") => Op::Lt,
                    Some("le") => Op::Le,
                    Some("sw") => Op::Sw,
                    Some("co") => Op::Co,
                    Some("pr") => Op::Pr,
                    _ => return Err(FilterError),
                };
                self.pos += 1;
                if op == Op::Pr {
                    return Ok(Expr::Cmp { attr, op, value: Literal::Null });
                }
                let value = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Str(s)) => Literal::Str(s),
                    Some(Tok::Word(w)) => match w.as_str() {
                        "true" => Literal::Bool(true),
                        "false" => Literal::Bool(false),
                        "null" => Literal::Null,
                        n => Literal::Num(n.parse().map_err(|_| FilterError)?),
                    },
                    _ => return Err(FilterError),
                };
                self.pos += 1;
                Ok(Expr::Cmp { attr, op, value })
            }
            _ => Err(FilterError),
        }
    }
}

pub(crate) fn parse(s: &str) -> Result<Expr, FilterError> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Err(FilterError);
    }
    let mut p = Parser { toks, pos: 0 };
    let e = p.or_expr()?;
    if p.pos != p.toks.len() {
        return Err(FilterError);
    }
    Ok(e)
}

/// An attribute value of a user or group, as the evaluator sees it.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    Time(i64),
    List(Vec<Val<'a>>),
    Missing,
}

pub(crate) trait Attrs {
    fn attr(&self, path: &str) -> Val<'_>;
}

/// What one endpoint's `filter` or `search` parameter accepts.
pub(crate) struct Dialect {
    pub attr_ok: fn(&str) -> bool,
    pub op_ok: fn(&str, Op) -> bool,
    pub allow_not: bool,
    /// `search` compares strings case-insensitively; `filter` does not.
    pub ignore_case: bool,
}

impl Dialect {
    pub fn validate(&self, e: &Expr) -> Result<(), FilterError> {
        match e {
            Expr::And(a, b) | Expr::Or(a, b) => {
                self.validate(a)?;
                self.validate(b)
            }
            Expr::Not(a) if self.allow_not => self.validate(a),
            Expr::Not(_) => Err(FilterError),
            Expr::Cmp { attr, op, .. } => {
                if (self.attr_ok)(attr) && (self.op_ok)(attr, *op) {
                    Ok(())
                } else {
                    Err(FilterError)
                }
            }
        }
    }

    pub fn parse(&self, s: &str) -> Result<Expr, FilterError> {
        let e = parse(s)?;
        self.validate(&e)?;
        Ok(e)
    }

    pub fn matches(&self, e: &Expr, r: &dyn Attrs) -> bool {
        match e {
            Expr::And(a, b) => self.matches(a, r) && self.matches(b, r),
            Expr::Or(a, b) => self.matches(a, r) || self.matches(b, r),
            Expr::Not(a) => !self.matches(a, r),
            Expr::Cmp { attr, op, value } => compare(&r.attr(attr), *op, value, self.ignore_case),
        }
    }
}

fn compare(v: &Val<'_>, op: Op, lit: &Literal, ignore_case: bool) -> bool {
    use std::cmp::Ordering;
    if op == Op::Pr {
        return !matches!(v, Val::Missing);
    }
    let ord: Option<Ordering> = match (v, lit) {
        (Val::List(items), _) => {
            // Array attributes match when any element does.
            return items.iter().any(|i| compare(i, op, lit, ignore_case));
        }
        (Val::Missing, Literal::Null) => return op == Op::Eq,
        (Val::Missing, _) => return op == Op::Ne,
        (Val::Time(t), Literal::Str(s)) => match parse_ts(s) {
            Some(lt) => Some(t.cmp(&lt)),
            None => return false,
        },
        (Val::Str(s), Literal::Str(l)) => {
            let (a, b) = if ignore_case {
                (Cow::Owned(s.to_lowercase()), Cow::Owned(l.to_lowercase()))
            } else {
                (Cow::Borrowed(s.as_ref()), Cow::Borrowed(l.as_str()))
            };
            match op {
                Op::Sw => return a.starts_with(b.as_ref()),
                Op::Co => return a.contains(b.as_ref()),
                _ => Some(a.as_ref().cmp(b.as_ref())),
            }
        }
        (Val::Num(n), Literal::Num(l)) => n.partial_cmp(l),
        (Val::Num(n), Literal::Str(l)) => l.parse::<f64>().ok().and_then(|l| n.partial_cmp(&l)),
        (Val::Bool(b), Literal::Bool(l)) => Some(b.cmp(l)),
        _ => None,
    };
    let Some(ord) = ord else {
        return op == Op::Ne;
    };
    match op {
        Op::Eq => ord == Ordering::Equal,
        Op::Ne => ord != Ordering::Equal,
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Sw | Op::Co | Op::Pr => false,
    }
}

fn is_date_op(op: Op) -> bool {
    matches!(op, Op::Eq | Op::Gt | Op::Ge | Op::Lt | Op::Le)
}

/// `GET /api/v1/users?filter=`: a fixed attribute list, `eq` only, date ranges on `lastUpdated`.
pub(crate) const USER_FILTER: Dialect = Dialect {
    attr_ok: |a| {
        matches!(
            a,
            "status"
                | "lastUpdated"
                | "id"
                | "profile.login"
                | "profile.email"
                | "profile.firstName"
                | "profile.lastName"
        )
    },
    op_ok: |a, op| if a == "lastUpdated" { is_date_op(op) } else { op == Op::Eq },
    allow_not: false,
    ignore_case: false,
};

/// `GET /api/v1/users?search=`: any profile attribute; `co` only on the four name/login fields; no `ne`.
pub(crate) const USER_SEARCH: Dialect = Dialect {
    attr_ok: |a| {
        a.starts_with("profile.")
            || matches!(a, "id" | "status" | "created" | "activated" | "statusChanged" | "lastUpdated" | "type.id")
    },
    op_ok: |a, op| match op {
        Op::Ne => false,
        Op::Co => matches!(a, "profile.firstName" | "profile.lastName" | "profile.email" | "profile.login"),
        _ => true,
    },
    allow_not: false,
    ignore_case: true,
};

/// `GET /api/v1/groups?filter=`: `id`, `type`, and the two timestamps.
pub(crate) const GROUP_FILTER: Dialect = Dialect {
    attr_ok: |a| matches!(a, "id" | "type" | "lastUpdated" | "lastMembershipUpdated"),
    op_ok: |a, op| {
        if matches!(a, "lastUpdated" | "lastMembershipUpdated") {
            is_date_op(op)
        } else {
            op == Op::Eq
        }
    },
    allow_not: false,
    ignore_case: false,
};

/// `GET /api/v1/groups?search=`.
pub(crate) const GROUP_SEARCH: Dialect = Dialect {
    attr_ok: |a| {
        a.starts_with("profile.")
            || matches!(a, "id" | "created" | "lastMembershipUpdated" | "lastUpdated" | "type" | "source.id")
    },
    op_ok: |a, op| match op {
        Op::Ne => false,
        Op::Co => matches!(a, "profile.name" | "profile.description"),
        _ => true,
    },
    allow_not: false,
    ignore_case: true,
};

/// A JSON profile value as a `Val`.
pub(crate) fn json_val(v: Option<&serde_json::Value>) -> Val<'_> {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => Val::Missing,
        Some(Value::String(s)) => Val::Str(Cow::Borrowed(s)),
        Some(Value::Number(n)) => n.as_f64().map_or(Val::Missing, Val::Num),
        Some(Value::Bool(b)) => Val::Bool(*b),
        Some(Value::Array(a)) => Val::List(a.iter().map(|x| json_val(Some(x))).collect()),
        Some(Value::Object(_)) => Val::Missing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct R;
    impl Attrs for R {
        fn attr(&self, path: &str) -> Val<'_> {
            match path {
                "status" => Val::Str(Cow::Borrowed("ACTIVE")),
                "lastUpdated" => Val::Time(parse_ts("2020-01-01T00:00:00.000Z").unwrap()),
                "profile.department" => Val::Str(Cow::Borrowed("Engineering")),
                "profile.firstName" => Val::Str(Cow::Borrowed("Grace")),
                _ => Val::Missing,
            }
        }
    }

    #[test]
    fn parses_okta_documented_examples() {
        for s in [
            r#"status eq "ACTIVE""#,
            r#"lastUpdated gt "2013-06-01T00:00:00.000Z""#,
            r#"type eq "OKTA_GROUP" and (lastUpdated gt "2016-11-11T00:00:00.000Z" or lastMembershipUpdated gt "2016-11-11T00:00:00.000Z")"#,
            r#"profile.department eq "Engineering" and (created lt "2014-01-01T00:00:00.000Z" or status eq "ACTIVE")"#,
            r#"profile.nickName eq "Ab\"c""#,
            r#"STATUS EQ "ACTIVE" AND id Pr"#,
        ] {
            assert!(parse(s).is_ok(), "{s}");
        }
        for s in ["", "status", r#"status eq"#, r#"(status eq "A""#, r#"status eq "A" garbage"#, r#"status like "A""#] {
            assert!(parse(s).is_err(), "{s}");
        }
    }

    #[test]
    fn filter_values_are_case_sensitive_but_search_values_are_not() {
        let f = USER_FILTER.parse(r#"status eq "active""#).unwrap();
        assert!(!USER_FILTER.matches(&f, &R));
        let s = USER_SEARCH.parse(r#"status eq "active""#).unwrap();
        assert!(USER_SEARCH.matches(&s, &R));
    }

    #[test]
    fn dates_compare_as_instants() {
        let e = USER_FILTER.parse(r#"lastUpdated gt "2019-12-31T23:59:59.999Z""#).unwrap();
        assert!(USER_FILTER.matches(&e, &R));
        let e = USER_FILTER.parse(r#"lastUpdated ge "2020-01-01T00:00:00Z""#).unwrap();
        assert!(USER_FILTER.matches(&e, &R));
        let e = USER_FILTER.parse(r#"lastUpdated lt "2020-01-01T00:00:00.000Z""#).unwrap();
        assert!(!USER_FILTER.matches(&e, &R));
    }

    #[test]
    fn each_dialect_refuses_what_okta_refuses() {
        assert!(USER_FILTER.parse(r#"profile.department eq "x""#).is_err());
        assert!(USER_FILTER.parse(r#"status gt "x""#).is_err());
        assert!(USER_FILTER.parse(r#"not status eq "ACTIVE""#).is_err());
        assert!(USER_SEARCH.parse(r#"status ne "ACTIVE""#).is_err());
        assert!(USER_SEARCH.parse(r#"profile.department co "Eng""#).is_err());
        assert!(USER_SEARCH.parse(r#"profile.firstName co "rac""#).is_ok());
        assert!(GROUP_FILTER.parse(r#"profile.name eq "x""#).is_err());
        assert!(GROUP_FILTER.parse(r#"lastMembershipUpdated gt "2020-01-01T00:00:00.000Z""#).is_ok());
    }

    #[test]
    fn search_supports_starts_with_and_contains() {
        let e = USER_SEARCH.parse(r#"profile.department sw "eng" and profile.firstName co "RAC""#).unwrap();
        assert!(USER_SEARCH.matches(&e, &R));
    }
}
