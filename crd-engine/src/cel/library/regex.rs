//! Regular expressions: the standard `matches`, and Kubernetes' `find` and
//! `findAll`. The cel crate's own `matches` is left out (its `regex`
//! feature is off) because it compiles the pattern on every call; these
//! share compiled patterns through a small cache, since rules almost always
//! match against a constant.

use super::failure;
use cel::common::types::{CelBool, CelInt, CelList, CelString};
use cel::common::value::Val;
use cel::{DeclarationError, Env, ExecutionError};
use regex::Regex;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    cel::add_overload!(env, fn matches: (CelString, CelString) -> Result<CelBool>, id = "matches")?;
    cel::add_member_overload!(env, fn matches: (CelString, CelString) -> Result<CelBool>)?;
    cel::add_member_overload!(env, fn find: (CelString, CelString) -> Result<CelString>)?;
    cel::add_member_overload!(env, fn find_all: (CelString, CelString) -> Result<CelList>)?;
    cel::add_member_overload!(env, fn find_all_limit: (CelString, CelString, CelInt) -> Result<CelList>,
        name = "findAll")?;
    Ok(())
}

/// How many distinct patterns the cache keeps before starting over: far
/// more than the rules of all CRDs of a cluster usually hold.
const CACHE_CAPACITY: usize = 1024;

/// The compiled form of `pattern`, from the cache when it was seen before.
fn compiled(function: &str, pattern: &str) -> Result<Arc<Regex>, ExecutionError> {
    static CACHE: OnceLock<RwLock<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.read().ok().and_then(|c| c.get(pattern).cloned()) {
        return Ok(found);
    }
    let regex = Regex::new(pattern).map_err(|e| {
        failure(
            function,
            format!("error parsing regexp: {}", first_line(&e.to_string())),
        )
    })?;
    let regex = Arc::new(regex);
    if let Ok(mut cache) = cache.write() {
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(pattern.to_string(), Arc::clone(&regex));
    }
    Ok(regex)
}

fn first_line(text: &str) -> &str {
    text.lines().last().unwrap_or(text).trim()
}

fn matches(this: &CelString<'_>, pattern: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    Ok(CelBool::from(
        compiled("matches", pattern.inner())?.is_match(this.inner()),
    ))
}

fn find(
    this: &CelString<'_>,
    pattern: &CelString<'_>,
) -> Result<CelString<'static>, ExecutionError> {
    let regex = compiled("find", pattern.inner())?;
    let found = regex
        .find(this.inner())
        .map(|m| m.as_str())
        .unwrap_or_default();
    Ok(CelString::from(found.to_string()))
}

fn find_all(
    this: &CelString<'_>,
    pattern: &CelString<'_>,
) -> Result<CelList<'static>, ExecutionError> {
    collect(this, pattern, usize::MAX)
}

/// `findAll` with a limit: a negative limit means all matches.
fn find_all_limit(
    this: &CelString<'_>,
    pattern: &CelString<'_>,
    limit: &CelInt,
) -> Result<CelList<'static>, ExecutionError> {
    let limit = usize::try_from(*limit.inner()).unwrap_or(usize::MAX);
    collect(this, pattern, limit)
}

fn collect(
    this: &CelString<'_>,
    pattern: &CelString<'_>,
    limit: usize,
) -> Result<CelList<'static>, ExecutionError> {
    let regex = compiled("findAll", pattern.inner())?;
    let found: Vec<Box<dyn Val>> = regex
        .find_iter(this.inner())
        .take(limit)
        .map(|m| Box::new(CelString::from(m.as_str().to_string())) as Box<dyn Val>)
        .collect();
    Ok(CelList::from(found))
}
