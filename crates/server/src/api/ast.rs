//! The JSON AST of `/api/v1/parse_query`, in the shape of Prometheus 3.5's `translateAST`
//! (the tree view of its UI), built from `promql-parser`'s AST.

use promql_parser::label::MatchOp;
use promql_parser::parser::{
    AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};
use serde_json::{Value, json};

fn offset_ms(o: Option<&Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => d.as_millis() as i64,
        Some(Offset::Neg(d)) => -(d.as_millis() as i64),
        None => 0,
    }
}

/// `(timestamp, startOrEnd)` of an `@` modifier.
fn at(a: Option<&AtModifier>) -> (Value, Value) {
    match a {
        None => (Value::Null, Value::Null),
        Some(AtModifier::Start) => (Value::Null, json!("start")),
        Some(AtModifier::End) => (Value::Null, json!("end")),
        Some(AtModifier::At(t)) => {
            let ms = match t.duration_since(std::time::UNIX_EPOCH) {
                Ok(d) => d.as_millis() as i64,
                Err(e) => -(e.duration().as_millis() as i64),
            };
            (json!(ms), Value::Null)
        }
    }
}

/// Matchers as written, then `__name__` when the name stood outside the braces (where
/// Prometheus's parser appends it).
fn matchers(vs: &VectorSelector) -> Value {
    let mut out: Vec<Value> = vs
        .matchers
        .matchers
        .iter()
        .map(|m| {
            let op = match m.op {
                MatchOp::Equal => "=",
                MatchOp::NotEqual => "!=",
                MatchOp::Re(_) => "=~",
                MatchOp::NotRe(_) => "!~",
            };
            json!({"name": m.name, "value": m.value, "type": op})
        })
        .collect();
    if let Some(name) = &vs.name
        && !vs.matchers.matchers.iter().any(|m| m.name == "__name__")
    {
        out.push(json!({"name": "__name__", "value": name, "type": "="}));
    }
    Value::Array(out)
}

fn selector_name(vs: &VectorSelector) -> String {
    vs.name.clone().unwrap_or_default()
}

fn labels(l: Option<&LabelModifier>) -> Vec<String> {
    l.map(|m| m.labels().labels.clone()).unwrap_or_default()
}

/// Translates an expression.
pub(crate) fn translate(expr: &Expr) -> Value {
    match expr {
        Expr::Aggregate(a) => json!({
            "type": "aggregation",
            "op": a.op.to_string(),
            "expr": translate(&a.expr),
            "param": a.param.as_deref().map_or(Value::Null, translate),
            "grouping": labels(a.modifier.as_ref()),
            "without": matches!(a.modifier, Some(LabelModifier::Exclude(_))),
        }),
        Expr::Binary(b) => {
            let vector_operands = matches!(
                (b.lhs.value_type(), b.rhs.value_type()),
                (
                    promql_parser::parser::value::ValueType::Vector,
                    promql_parser::parser::value::ValueType::Vector
                )
            );
            let matching = match &b.modifier {
                Some(m) if vector_operands => {
                    let (card, include) = match &m.card {
                        VectorMatchCardinality::OneToOne => ("one-to-one", Vec::new()),
                        VectorMatchCardinality::ManyToOne(l) => ("many-to-one", l.labels.clone()),
                        VectorMatchCardinality::OneToMany(l) => ("one-to-many", l.labels.clone()),
                        VectorMatchCardinality::ManyToMany => ("many-to-many", Vec::new()),
                    };
                    let card = if b.op.is_set_operator() {
                        "many-to-many"
                    } else {
                        card
                    };
                    json!({
                        "card": card,
                        "labels": labels(m.matching.as_ref()),
                        "on": matches!(m.matching, Some(LabelModifier::Include(_))),
                        "include": include,
                    })
                }
                None if vector_operands => json!({
                    "card": if b.op.is_set_operator() { "many-to-many" } else { "one-to-one" },
                    "labels": [],
                    "on": false,
                    "include": [],
                }),
                _ => Value::Null,
            };
            json!({
                "type": "binaryExpr",
                "op": b.op.to_string(),
                "lhs": translate(&b.lhs),
                "rhs": translate(&b.rhs),
                "matching": matching,
                "bool": b.modifier.as_ref().is_some_and(|m| m.return_bool),
            })
        }
        Expr::Call(c) => json!({
            "type": "call",
            "func": {
                "name": c.func.name,
                "argTypes": c.func.arg_types.iter().map(|t| t.to_string()).collect::<Vec<_>>(),
                "variadic": c.func.variadic,
                "returnType": c.func.return_type.to_string(),
            },
            "args": c.args.args.iter().map(|a| translate(a)).collect::<Vec<_>>(),
        }),
        Expr::MatrixSelector(m) => {
            let (timestamp, start_or_end) = at(m.vs.at.as_ref());
            json!({
                "type": "matrixSelector",
                "name": selector_name(&m.vs),
                "range": m.range.as_millis() as i64,
                "offset": offset_ms(m.vs.offset.as_ref()),
                "matchers": matchers(&m.vs),
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
            })
        }
        Expr::Subquery(s) => {
            let (timestamp, start_or_end) = at(s.at.as_ref());
            json!({
                "type": "subquery",
                "expr": translate(&s.expr),
                "range": s.range.as_millis() as i64,
                "offset": offset_ms(s.offset.as_ref()),
                "step": s.step.map_or(0, |d| d.as_millis() as i64),
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
            })
        }
        Expr::NumberLiteral(n) => {
            let mut val = String::new();
            super::response::write_float_f(&mut val, n.val);
            json!({"type": "numberLiteral", "val": val})
        }
        Expr::Paren(p) => json!({"type": "parenExpr", "expr": translate(&p.expr)}),
        Expr::StringLiteral(s) => json!({"type": "stringLiteral", "val": s.val}),
        Expr::Unary(u) => json!({"type": "unaryExpr", "op": "-", "expr": translate(&u.expr)}),
        Expr::VectorSelector(vs) => {
            let (timestamp, start_or_end) = at(vs.at.as_ref());
            json!({
                "type": "vectorSelector",
                "name": selector_name(vs),
                "offset": offset_ms(vs.offset.as_ref()),
                "matchers": matchers(vs),
                "timestamp": timestamp,
                "startOrEnd": start_or_end,
            })
        }
        Expr::Extension(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ast(q: &str) -> Value {
        translate(&promql_parser::parser::parse(q).expect("parses"))
    }

    /// Shapes checked against Prometheus 3.5.3's `/api/v1/parse_query`.
    #[test]
    fn shapes_match_prometheus() {
        assert_eq!(
            ast("foo"),
            json!({"matchers":[{"name":"__name__","type":"=","value":"foo"}],"name":"foo","offset":0,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"})
        );
        assert_eq!(
            ast(r#"foo{a="b",c=~"d"}[5m] offset 1m"#),
            json!({"matchers":[{"name":"a","type":"=","value":"b"},{"name":"c","type":"=~","value":"d"},{"name":"__name__","type":"=","value":"foo"}],"name":"foo","offset":60000,"range":300000,"startOrEnd":null,"timestamp":null,"type":"matrixSelector"})
        );
        assert_eq!(
            ast("a + on(x) group_left(y) b")["matching"],
            json!({"card":"many-to-one","include":["y"],"labels":["x"],"on":true})
        );
        assert_eq!(ast("1 + 2")["matching"], Value::Null);
        assert_eq!(
            ast("a and b")["matching"],
            json!({"card":"many-to-many","include":[],"labels":[],"on":false})
        );
        assert_eq!(ast("a > bool 1")["bool"], json!(true));
        assert_eq!(ast("a > bool 1")["matching"], Value::Null);
        assert_eq!(ast("-foo @ 100")["expr"]["timestamp"], json!(100_000));
        let sq = ast("foo[1h:] @ end()");
        assert_eq!(
            (sq["step"].clone(), sq["startOrEnd"].clone()),
            (json!(0), json!("end"))
        );
        assert_eq!(
            ast("sum by (a) (rate(foo[5m]))")["expr"]["func"],
            json!({"argTypes":["matrix"],"name":"rate","returnType":"vector","variadic":0})
        );
        assert_eq!(
            ast("topk(3, x)")["param"],
            json!({"type":"numberLiteral","val":"3"})
        );
        assert_eq!(ast("foo offset -5m")["offset"], json!(-300_000));
        assert_eq!(ast(r#""s""#), json!({"type":"stringLiteral","val":"s"}));
    }
}
