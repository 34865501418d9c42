//! Kubernetes' lists library: `isSorted`, `sum`, `min`, `max`, `indexOf`
//! and `lastIndexOf` on lists.

use super::failure;
use cel::common::types::{CelBool, CelInt, DYN_TYPE, LIST_TYPE};
use cel::common::value::{CowVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use std::cmp::Ordering;

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_member_overload("isSorted", "list.isSorted()", LIST_TYPE, vec![], is_sorted)?;
    env.add_member_overload("sum", "list.sum()", LIST_TYPE, vec![], sum)?;
    env.add_member_overload("min", "list.min()", LIST_TYPE, vec![], min)?;
    env.add_member_overload("max", "list.max()", LIST_TYPE, vec![], max)?;
    env.add_member_overload(
        "indexOf",
        "list.indexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        index_of,
    )?;
    env.add_member_overload(
        "lastIndexOf",
        "list.lastIndexOf(dyn)",
        LIST_TYPE,
        vec![DYN_TYPE],
        last_index_of,
    )
}

/// The elements of the list receiver, borrowed.
fn elements<'a, 'v>(list: &'a (dyn Val + 'v)) -> Result<Vec<&'a (dyn Val + 'v)>, ExecutionError> {
    let iterable = list.as_iterable().ok_or_else(|| {
        ExecutionError::no_such_overload("list", vec![list.get_type().name().to_owned()])
    })?;
    let mut iter = iterable.iter();
    let mut items = Vec::new();
    while let Some(item) = iter.next() {
        items.push(item);
    }
    Ok(items)
}

fn compare(a: &dyn Val, b: &dyn Val) -> Result<Ordering, ExecutionError> {
    match a.as_comparer() {
        Some(comparer) => comparer.compare(b),
        None => Err(ExecutionError::no_such_overload(
            "_<_",
            vec![
                a.get_type().name().to_owned(),
                b.get_type().name().to_owned(),
            ],
        )),
    }
}

fn receiver<'a, 'b, 'v>(args: &'a [CowVal<'b, 'v>]) -> Result<&'a (dyn Val + 'v), ExecutionError> {
    args.first()
        .map(|a| a.as_ref())
        .ok_or_else(ExecutionError::missing_argument_or_target)
}

fn is_sorted<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args)?)?;
    for pair in items.windows(2) {
        if compare(pair[0], pair[1])? == Ordering::Greater {
            return Ok(CowVal::owned(CelBool::from(false)));
        }
    }
    Ok(CowVal::owned(CelBool::from(true)))
}

/// The sum of the elements; an empty list sums to the int zero, as the
/// element type is not known at run time.
fn sum<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args)?)?;
    let mut total: Option<Box<dyn Val + 'v>> = None;
    for item in items {
        total = Some(match total {
            None => item.clone_as_boxed(),
            Some(acc) => {
                let adder = acc.as_adder().ok_or_else(|| {
                    ExecutionError::no_such_overload("_+_", vec![acc.get_type().name().to_owned()])
                })?;
                adder.add(item)?.into_owned()
            }
        });
    }
    Ok(CowVal::Owned(
        total.unwrap_or_else(|| Box::new(CelInt::from(0))),
    ))
}

/// The element `better` prefers over every other, as upstream's min and max.
fn extreme<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    name: &str,
    replace_when: Ordering,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args)?)?;
    let mut best: Option<&(dyn Val + 'v)> = None;
    for item in items {
        best = match best {
            Some(current) if compare(current, item)? != replace_when => Some(current),
            _ => Some(item),
        };
    }
    match best {
        Some(value) => Ok(CowVal::Owned(value.clone_as_boxed())),
        None => Err(failure(name, format!("{name} called on empty list"))),
    }
}

fn min<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "min", Ordering::Greater)
}

fn max<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    extreme(args, "max", Ordering::Less)
}

fn position<'b, 'v>(
    args: Vec<CowVal<'b, 'v>>,
    from_end: bool,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    let items = elements(receiver(&args)?)?;
    let needle = args
        .get(1)
        .ok_or_else(ExecutionError::missing_argument_or_target)?;
    let found = if from_end {
        items.iter().rposition(|item| item.equals(needle.as_ref()))
    } else {
        items.iter().position(|item| item.equals(needle.as_ref()))
    };
    Ok(CowVal::owned(CelInt::from(found.map_or(-1, |i| i as i64))))
}

fn index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position(args, false)
}

fn last_index_of<'b, 'v>(args: Vec<CowVal<'b, 'v>>) -> Result<CowVal<'b, 'v>, ExecutionError> {
    position(args, true)
}
