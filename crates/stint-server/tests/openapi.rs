//! `GET /api/openapi.json` against the built binary: a valid OpenAPI 3.1
//! document (it parses as one, and every reference in it resolves) that
//! names every route the server answers and that `docs/routes.md` lists,
//! and only those.

// Test helpers outside `#[test]` functions: a failed step is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{ADMIN_TOKEN, Server};
use serde_json::Value;

const KEY: &str = "openapi-test-service-key-0123";
const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

/// `(METHOD, path)` with every `{parameter}` written `{}`.
fn normalise(method: &str, path: &str) -> (String, String) {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.split('?').next().unwrap().chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            c => out.push(c),
        }
    }
    (method.to_uppercase(), out)
}

/// Every `METHOD /path` in the route tables of `docs/routes.md`.
fn documented_routes() -> BTreeSet<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/routes.md")).unwrap();
    let mut routes = BTreeSet::new();
    for line in doc.lines().filter(|l| l.starts_with("| `")) {
        for code in line.split('`').skip(1).step_by(2) {
            let Some((method, path)) = code.split_once(' ') else {
                continue;
            };
            if ["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) && path.starts_with('/') {
                routes.insert(normalise(method, path));
            }
        }
    }
    routes
}

async fn document(s: &Server) -> Value {
    let r = s.plain().get(s.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/json");
    r.json().await.unwrap()
}

/// Every `$ref` in `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let s = Server::start(&[("STINT_SERVICE_KEY", KEY)]);
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let text = doc.to_string();
    let spec = oas3::from_json(&text).unwrap_or_else(|e| panic!("not an OpenAPI 3.1 document: {e}"));
    assert_eq!(spec.info.title, "Stint");
    // Every reference names a schema the document has.
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(all.len() > 50, "{} references", all.len());
    for r in all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "{r} resolves to nothing"
        );
    }
    // Every path parameter is declared, every operation answers something
    // and has an id of its own (generators key their types by it), and the
    // two bearer schemes the operations name exist.
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(
                ids.insert(id.to_owned()),
                "operationId {id} is used twice ({method} {path})"
            );
            assert!(
                !op["responses"].as_object().unwrap().is_empty(),
                "{method} {path}"
            );
            let declared: BTreeSet<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            let templated: BTreeSet<&str> = path
                .split('{')
                .skip(1)
                .map(|rest| rest.split('}').next().unwrap())
                .collect();
            assert_eq!(declared, templated, "{method} {path}");
            for scheme in op["security"].as_array().into_iter().flatten() {
                for name in scheme.as_object().unwrap().keys() {
                    assert!(doc["components"]["securitySchemes"].get(name).is_some(), "{name}");
                }
            }
        }
    }
    // The shapes a client needs are there with their fields.
    let session = &doc["components"]["schemas"]["Session"]["properties"];
    for field in [
        "sessionId",
        "visitorId",
        "type",
        "customerId",
        "pageViews",
        "converted",
        "utmSource",
    ] {
        assert!(session.get(field).is_some(), "Session lacks {field}");
    }
    let resolved = &doc["components"]["schemas"]["Resolved"]["properties"];
    for field in ["session", "setCookie", "created", "bot"] {
        assert!(resolved.get(field).is_some(), "Resolved lacks {field}");
    }
}

#[tokio::test]
async fn the_document_names_every_route_and_only_routes() {
    let s = Server::start(&[("STINT_SERVICE_KEY", KEY)]);
    let doc = document(&s).await;
    let mut in_document = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            if item.get(method).is_some() {
                in_document.insert(normalise(method, path));
            }
        }
    }
    // The route tables of docs/routes.md, every method of the gateway aside
    // (the tables say "the same methods" in words).
    let listed = documented_routes();
    let gateway = |(m, p): &(String, String)| p.starts_with("/api/v1/auth") && m != "GET";
    let in_document_listed: BTreeSet<_> = in_document.iter().filter(|r| !gateway(r)).cloned().collect();
    assert_eq!(
        listed.difference(&in_document_listed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "listed in docs/routes.md, missing from the document"
    );
    assert_eq!(
        in_document_listed.difference(&listed).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "in the document, not in docs/routes.md"
    );
    assert!(in_document.len() >= 45, "{} operations", in_document.len());

    // Every path of the document is routed: a method it does not take is
    // refused with 405 (a path the server does not have answers 404).
    let client = s.plain();
    let trace = reqwest::Method::TRACE;
    for path in doc["paths"].as_object().unwrap().keys() {
        let concrete = path
            .split('/')
            .map(|seg| {
                if seg.starts_with('{') {
                    "01a22ff2-d00b-7479-8a63-c81e1dc5e1db"
                } else {
                    seg
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let bearer = if concrete.starts_with("/api/admin") {
            ADMIN_TOKEN
        } else {
            KEY
        };
        let r = client
            .request(trace.clone(), s.url(&concrete))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 405, "TRACE {concrete}: is {path} routed?");
    }
    for missing in [
        "/api/v1/not-a-route",
        "/api/admin/not-a-route",
        "/api/storefront/not-a-route",
        "/not-a-route",
    ] {
        let bearer = if missing.starts_with("/api/admin") {
            ADMIN_TOKEN
        } else {
            KEY
        };
        let r = client
            .request(trace.clone(), s.url(missing))
            .bearer_auth(bearer)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "TRACE {missing}");
    }
}

/// A route registered with axum's own `.route(...)` would be served and not
/// documented: the routers register handlers with utoipa-axum's `routes!`,
/// which does both. The document's own route is the one exception (it is
/// added to the document by hand).
#[test]
fn no_route_bypasses_the_document() {
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut files = vec![format!("{src}/app.rs")];
    for entry in std::fs::read_dir(format!("{src}/routes")).unwrap() {
        files.push(entry.unwrap().path().display().to_string());
    }
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let plain: Vec<&str> = text
            .lines()
            .filter(|l| l.contains(".route(") && !l.contains("OPENAPI_PATH"))
            .collect();
        assert!(plain.is_empty(), "{file} routes without documenting: {plain:?}");
    }
}
