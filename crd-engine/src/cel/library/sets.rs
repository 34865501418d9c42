//! cel-go's sets extension, which Kubernetes enables: `sets.contains`,
//! `sets.equivalent` and `sets.intersects` over lists.

use cel::common::types::{CelBool, LIST_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    let pair = || vec![LIST_TYPE, LIST_TYPE];
    env.add_overload("sets.contains", "list_sets_contains_list", pair(), contains)?;
    env.add_overload(
        "sets.equivalent",
        "list_sets_equivalent_list",
        pair(),
        equivalent,
    )?;
    env.add_overload(
        "sets.intersects",
        "list_sets_intersects_list",
        pair(),
        intersects,
    )
}

fn items<'a, 'v>(list: &'a (dyn Val + 'v)) -> Vec<&'a (dyn Val + 'v)> {
    let mut found = Vec::new();
    if let Some(iterable) = list.as_iterable() {
        let mut iter = iterable.iter();
        while let Some(item) = iter.next() {
            found.push(item);
        }
    }
    found
}

/// Whether every element of `b` is in `a`.
fn includes_all(a: &dyn Val, b: &dyn Val) -> bool {
    let a = items(a);
    items(b).iter().all(|x| a.iter().any(|y| y.equals(*x)))
}

fn pair<'a, 'b, 'v>(
    args: &'a [CowVal<'b, 'v>],
) -> Result<(&'a (dyn Val + 'v), &'a (dyn Val + 'v)), ExecutionError> {
    match args {
        [a, b] => Ok((a.as_ref(), b.as_ref())),
        _ => Err(ExecutionError::invalid_argument_count(2, args.len())),
    }
}

fn contains<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = pair(&args)?;
    Ok(CowVal::owned(CelBool::from(includes_all(a, b))))
}

fn equivalent<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = pair(&args)?;
    Ok(CowVal::owned(CelBool::from(
        includes_all(a, b) && includes_all(b, a),
    )))
}

fn intersects<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let (a, b) = pair(&args)?;
    let a = items(a);
    let found = items(b).iter().any(|x| a.iter().any(|y| y.equals(*x)));
    Ok(CowVal::owned(CelBool::from(found)))
}
