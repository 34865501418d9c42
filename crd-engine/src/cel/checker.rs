//! A light static check of a parsed rule against the schema, standing in for
//! cel-go's type checker, which the cel crate does not have.
//!
//! It infers a type for each expression from the schema at the rule's node
//! and reports the mistakes CRD authors make most: a name that is not
//! declared, a field the schema does not have, an operator applied to two
//! plainly incompatible types, and a rule whose result is not a bool. Where
//! it cannot be sure it answers `dyn`, which accepts anything: a rule it
//! lets through may still fail at run time, as int-or-string rules do
//! upstream, but it never rejects a rule cel-go accepts for a reason of its
//! own.

use super::library;
use super::schema::Node;
use cel::common::ast::{operators, CallExpr, ComprehensionExpr, EntryExpr, Expr, LiteralValue};
use cel::IdedExpr;

/// A static type, as far as the checker can tell.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ty<'n> {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    Bytes,
    Duration,
    Timestamp,
    List(Box<Ty<'n>>),
    Map(Box<Ty<'n>>, Box<Ty<'n>>),
    /// An object with declared properties.
    Object(SchemaRef<'n>),
    /// The metadata of a resource root: only `name` and `generateName`.
    ObjectMeta,
    /// A library type such as `kubernetes.Quantity`.
    Opaque(&'static str),
    Optional(Box<Ty<'n>>),
    Type,
}

/// A schema node, equal only to itself: two objects have the same type
/// when they come from the same place in the schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SchemaRef<'n>(pub &'n Node);

impl PartialEq for SchemaRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}

impl Ty<'_> {
    /// The type's name in cel-go's messages.
    fn name(&self) -> String {
        match self {
            Ty::Dyn => "dyn".into(),
            Ty::Null => "null_type".into(),
            Ty::Bool => "bool".into(),
            Ty::Int => "int".into(),
            Ty::Uint => "uint".into(),
            Ty::Double => "double".into(),
            Ty::String => "string".into(),
            Ty::Bytes => "bytes".into(),
            Ty::Duration => "google.protobuf.Duration".into(),
            Ty::Timestamp => "google.protobuf.Timestamp".into(),
            Ty::List(e) => format!("list({})", e.name()),
            Ty::Map(k, v) => format!("map({}, {})", k.name(), v.name()),
            Ty::Object(_) | Ty::ObjectMeta => "object".into(),
            Ty::Opaque(name) => (*name).into(),
            Ty::Optional(t) => format!("optional_type({})", t.name()),
            Ty::Type => "type".into(),
        }
    }

    fn is_numeric(&self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }

    /// Whether a value of this type can meet one of `other` in `==` or an
    /// ordering: the same kind of thing, or anything unknown.
    fn meets(&self, other: &Ty) -> bool {
        match (self, other) {
            (Ty::Dyn, _) | (_, Ty::Dyn) | (Ty::Null, _) | (_, Ty::Null) => true,
            (a, b) if a.is_numeric() && b.is_numeric() => true,
            (Ty::List(a), Ty::List(b)) => a.meets(b),
            (Ty::Map(ka, va), Ty::Map(kb, vb)) => ka.meets(kb) && va.meets(vb),
            (Ty::Object(_) | Ty::ObjectMeta | Ty::Map(..), Ty::Object(_) | Ty::ObjectMeta) => true,
            (Ty::Object(_) | Ty::ObjectMeta, Ty::Map(..)) => true,
            (Ty::Optional(_), Ty::Optional(_)) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

/// The static type of a value under `node`.
pub(crate) fn node_type(node: &Node) -> Ty<'_> {
    if node.int_or_string {
        return Ty::Dyn;
    }
    match node.type_name.as_str() {
        "object" if !node.properties.is_empty() || node.resource_root => {
            Ty::Object(SchemaRef(node))
        }
        "object" => match &node.additional_properties {
            Some(values) => Ty::Map(Box::new(Ty::String), Box::new(node_type(values))),
            None if node.preserve_unknown_fields => Ty::Dyn,
            None => Ty::Object(SchemaRef(node)),
        },
        "array" => Ty::List(Box::new(node.items.as_deref().map_or(Ty::Dyn, node_type))),
        "string" => match node.format.as_str() {
            "byte" => Ty::Bytes,
            "duration" => Ty::Duration,
            "date" | "date-time" => Ty::Timestamp,
            _ => Ty::String,
        },
        "integer" => Ty::Int,
        "number" => Ty::Double,
        "boolean" => Ty::Bool,
        _ => Ty::Dyn,
    }
}

/// A problem found, at a byte offset of the source.
#[derive(Debug, PartialEq)]
pub(crate) struct CheckError {
    pub offset: usize,
    pub message: String,
}

/// The variables a rule can name, besides those its comprehensions bind.
pub(crate) struct Declarations<'n> {
    pub self_type: Ty<'n>,
    /// `oldSelf`'s type: the self type, or an optional of it.
    pub old_self_type: Ty<'n>,
}

/// What checking an expression found out.
#[derive(Debug)]
pub(crate) struct Checked<'n> {
    pub ty: Ty<'n>,
    /// Whether it names `oldSelf`, making it a transition rule.
    pub uses_old_self: bool,
}

/// Checks `expr`; `offsets` maps node ids to byte offsets for error
/// positions.
pub(crate) fn check<'n>(
    expr: &IdedExpr,
    declarations: &Declarations<'n>,
    offsets: &dyn Fn(u64) -> usize,
) -> Result<Checked<'n>, CheckError> {
    let mut checker = Checker {
        declarations,
        scopes: Vec::new(),
        offsets,
        uses_old_self: false,
    };
    let ty = checker.check(expr)?;
    Ok(Checked {
        ty,
        uses_old_self: checker.uses_old_self,
    })
}

struct Checker<'d, 'n> {
    declarations: &'d Declarations<'n>,
    scopes: Vec<(String, Ty<'n>)>,
    offsets: &'d dyn Fn(u64) -> usize,
    uses_old_self: bool,
}

impl<'n> Checker<'_, 'n> {
    fn error(&self, id: u64, message: String) -> CheckError {
        CheckError {
            offset: (self.offsets)(id),
            message,
        }
    }

    fn check(&mut self, expr: &IdedExpr) -> Result<Ty<'n>, CheckError> {
        match &expr.expr {
            Expr::Literal(literal) => Ok(literal_type(literal)),
            Expr::Ident(name) => self.ident(expr.id, name),
            Expr::Select(select) => {
                let operand = self.check(&select.operand)?;
                let field = self.select(expr.id, &operand, &select.field)?;
                Ok(if select.test { Ty::Bool } else { field })
            }
            Expr::Call(call) => self.call(expr.id, call),
            Expr::List(list) => {
                let mut element = None;
                for item in &list.elements {
                    let ty = self.check(item)?;
                    element = Some(match element {
                        None => ty,
                        Some(seen) if seen == ty => seen,
                        Some(_) => Ty::Dyn,
                    });
                }
                Ok(Ty::List(Box::new(element.unwrap_or(Ty::Dyn))))
            }
            Expr::Map(map) => {
                for entry in &map.entries {
                    if let EntryExpr::MapEntry(e) = &entry.expr {
                        self.check(&e.key)?;
                        self.check(&e.value)?;
                    }
                }
                Ok(Ty::Map(Box::new(Ty::Dyn), Box::new(Ty::Dyn)))
            }
            Expr::Comprehension(comprehension) => self.comprehension(comprehension),
            Expr::Struct(_) | Expr::Unspecified => Ok(Ty::Dyn),
        }
    }

    fn ident(&mut self, id: u64, name: &str) -> Result<Ty<'n>, CheckError> {
        if let Some((_, ty)) = self.scopes.iter().rev().find(|(n, _)| n == name) {
            return Ok(ty.clone());
        }
        match name {
            "self" => Ok(self.declarations.self_type.clone()),
            "oldSelf" => {
                self.uses_old_self = true;
                Ok(self.declarations.old_self_type.clone())
            }
            _ if library::is_type_name(name) => Ok(Ty::Type),
            _ if name.starts_with('@') => Ok(Ty::Dyn),
            _ => Err(self.error(
                id,
                format!("undeclared reference to '{name}' (in container '')"),
            )),
        }
    }

    fn select(&self, id: u64, operand: &Ty<'n>, field: &str) -> Result<Ty<'n>, CheckError> {
        match operand {
            Ty::Object(SchemaRef(node)) => {
                if let Some(ty) = object_field(node, field) {
                    return Ok(ty);
                }
                if node.preserve_unknown_fields {
                    return Ok(Ty::Dyn);
                }
                Err(self.error(id, format!("undefined field '{field}'")))
            }
            Ty::ObjectMeta => match field {
                "name" | "generateName" => Ok(Ty::String),
                _ => Err(self.error(id, format!("undefined field '{field}'"))),
            },
            Ty::Map(_, value) => Ok((**value).clone()),
            _ => Ok(Ty::Dyn),
        }
    }

    fn comprehension(&mut self, c: &ComprehensionExpr) -> Result<Ty<'n>, CheckError> {
        let range = self.check(&c.iter_range)?;
        let (first, second) = match range {
            Ty::List(element) => (Ty::Int, *element),
            Ty::Map(key, value) => (*key, *value),
            Ty::Object(_) | Ty::ObjectMeta => (Ty::String, Ty::Dyn),
            _ => (Ty::Dyn, Ty::Dyn),
        };
        let accumulator = self.check(&c.accu_init)?;
        let depth = self.scopes.len();
        match &c.iter_var2 {
            Some(value_var) => {
                self.scopes.push((c.iter_var.clone(), first));
                self.scopes.push((value_var.clone(), second));
            }
            None if matches!(first, Ty::Int) => self.scopes.push((c.iter_var.clone(), second)),
            None => self.scopes.push((c.iter_var.clone(), first)),
        }
        self.scopes.push((c.accu_var.clone(), accumulator));
        let outcome = (|| {
            self.check(&c.loop_cond)?;
            self.check(&c.loop_step)?;
            self.check(&c.result)
        })();
        self.scopes.truncate(depth);
        outcome
    }

    fn call(&mut self, id: u64, call: &CallExpr) -> Result<Ty<'n>, CheckError> {
        if let Some(namespace) = call.target.as_deref().and_then(|t| self.namespace_of(t)) {
            for arg in &call.args {
                self.check(arg)?;
            }
            let qualified = format!("{namespace}.{}", call.func_name);
            return library::result_type(&qualified, None, &[])
                .ok_or_else(|| undeclared(self, id, &qualified));
        }
        let target = match &call.target {
            Some(target) => Some(self.check(target)?),
            None => None,
        };
        let mut args = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            args.push(self.check(arg)?);
        }
        if let Some(ty) = self.operator(id, &call.func_name, &args)? {
            return Ok(ty);
        }
        if call.func_name.starts_with('@') {
            // A helper a macro expanded to, such as sortBy's.
            return Ok(Ty::Dyn);
        }
        library::result_type(&call.func_name, target.as_ref(), &args)
            .ok_or_else(|| undeclared(self, id, &call.func_name))
    }

    /// `strings` in `strings.quote(x)`: an identifier that names a function
    /// namespace rather than a variable.
    fn namespace_of<'e>(&self, target: &'e IdedExpr) -> Option<&'e str> {
        match &target.expr {
            Expr::Ident(name)
                if library::is_namespace(name) && !self.scopes.iter().any(|(n, _)| n == name) =>
            {
                Some(name)
            }
            _ => None,
        }
    }

    /// The type of an operator call, `None` for anything that is not one.
    fn operator(&self, id: u64, name: &str, args: &[Ty<'n>]) -> Result<Option<Ty<'n>>, CheckError> {
        let mismatch = || {
            let types: Vec<String> = args.iter().map(Ty::name).collect();
            self.error(
                id,
                format!(
                    "found no matching overload for '{name}' applied to '({})'",
                    types.join(", ")
                ),
            )
        };
        let ty = match (name, args) {
            (operators::LOGICAL_AND | operators::LOGICAL_OR | operators::LOGICAL_NOT, _) => {
                Ty::Bool
            }
            (operators::NOT_STRICTLY_FALSE | operators::IN, _) => Ty::Bool,
            (operators::EQUALS | operators::NOT_EQUALS, [a, b]) => {
                if !a.meets(b) {
                    return Err(mismatch());
                }
                Ty::Bool
            }
            (
                operators::LESS
                | operators::LESS_EQUALS
                | operators::GREATER
                | operators::GREATER_EQUALS,
                [a, b],
            ) => {
                if !a.meets(b) {
                    return Err(mismatch());
                }
                Ty::Bool
            }
            (operators::ADD, [a, b]) => arithmetic(a, b, true).ok_or_else(mismatch)?,
            (
                operators::SUBSTRACT | operators::MULTIPLY | operators::DIVIDE | operators::MODULO,
                [a, b],
            ) => {
                if name == operators::SUBSTRACT {
                    match (a, b) {
                        (Ty::Timestamp, Ty::Timestamp) => return Ok(Some(Ty::Duration)),
                        (Ty::Timestamp, Ty::Duration) => return Ok(Some(Ty::Timestamp)),
                        _ => {}
                    }
                }
                arithmetic(a, b, false).ok_or_else(mismatch)?
            }
            (operators::NEGATE, [a]) => a.clone(),
            (operators::INDEX, [container, _]) => match container {
                Ty::List(element) => (**element).clone(),
                Ty::Map(_, value) => (**value).clone(),
                _ => Ty::Dyn,
            },
            (operators::CONDITIONAL, [_, a, b]) if a == b => a.clone(),
            (operators::CONDITIONAL, _) => Ty::Dyn,
            (operators::OPT_INDEX | operators::OPT_SELECT, _) => Ty::Optional(Box::new(Ty::Dyn)),
            _ => return Ok(None),
        };
        Ok(Some(ty))
    }
}

fn undeclared(checker: &Checker<'_, '_>, id: u64, name: &str) -> CheckError {
    checker.error(
        id,
        format!("undeclared reference to '{name}' (in container '')"),
    )
}

/// The result of `a + b` (or another arithmetic operator), `None` when the
/// two plainly cannot be combined.
fn arithmetic<'n>(a: &Ty<'n>, b: &Ty<'n>, is_add: bool) -> Option<Ty<'n>> {
    match (a, b) {
        (Ty::Dyn, other) | (other, Ty::Dyn) => Some(if other.is_numeric() {
            other.clone()
        } else {
            Ty::Dyn
        }),
        (x, y) if x.is_numeric() && y.is_numeric() => {
            Some(if x == y { x.clone() } else { Ty::Dyn })
        }
        (Ty::String, Ty::String) | (Ty::Bytes, Ty::Bytes) if is_add => Some(a.clone()),
        (Ty::List(_), Ty::List(_)) if is_add => Some(if a == b {
            a.clone()
        } else {
            Ty::List(Box::new(Ty::Dyn))
        }),
        (Ty::Duration, Ty::Duration) => Some(Ty::Duration),
        (Ty::Timestamp, Ty::Duration) | (Ty::Duration, Ty::Timestamp) if is_add => {
            Some(Ty::Timestamp)
        }
        _ => None,
    }
}

/// The type of the property a CEL name refers to, after unescaping.
fn object_field<'n>(node: &'n Node, field: &str) -> Option<Ty<'n>> {
    if node.resource_root {
        match field {
            "apiVersion" | "kind" => return Some(Ty::String),
            "metadata" => return Some(Ty::ObjectMeta),
            _ => {}
        }
    }
    node.properties
        .values()
        .find(|(name, _)| name.as_deref() == Some(field))
        .map(|(_, prop)| node_type(prop))
}

fn literal_type<'n>(literal: &LiteralValue) -> Ty<'n> {
    match literal {
        LiteralValue::Boolean(_) => Ty::Bool,
        LiteralValue::Bytes(_) => Ty::Bytes,
        LiteralValue::Double(_) => Ty::Double,
        LiteralValue::Int(_) => Ty::Int,
        LiteralValue::Null => Ty::Null,
        LiteralValue::String(_) => Ty::String,
        LiteralValue::UInt(_) => Ty::Uint,
    }
}
