//! CORS for gRPC-Web calls from pages of other origins: the preflight answer,
//! and the headers that let a page read a call's response.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, HeaderMap, HeaderValue, ORIGIN, VARY,
};

use crate::server::web::config::{Origins, Prepared};

static ANY: HeaderValue = HeaderValue::from_static("*");
static TRUE: HeaderValue = HeaderValue::from_static("true");
static POST: HeaderValue = HeaderValue::from_static("POST");
static VARY_PREFLIGHT: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// Whether `request` is a CORS preflight (OPTIONS with `Origin` and
/// `Access-Control-Request-Method`).
pub(super) fn is_preflight<B>(request: &http::Request<B>) -> bool {
    request.method() == http::Method::OPTIONS
        && request.headers().contains_key(ORIGIN)
        && request
            .headers()
            .contains_key(ACCESS_CONTROL_REQUEST_METHOD)
}

/// The answer to a preflight: 204 with what the origin may do, or 403 with no
/// CORS headers (so the browser refuses the call) for an origin not allowed.
pub(super) fn preflight(web: &Prepared, headers: &HeaderMap) -> http::Response<()> {
    let mut response = http::Response::new(());
    let allowed = headers
        .get(ORIGIN)
        .and_then(|origin| allow_origin(web, origin));
    let out = response.headers_mut();
    out.insert(VARY, VARY_PREFLIGHT.clone());
    let Some(origin) = allowed else {
        *response.status_mut() = http::StatusCode::FORBIDDEN;
        return response;
    };
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    let out = response.headers_mut();
    add_origin(web, out, origin);
    out.insert(ACCESS_CONTROL_ALLOW_METHODS, POST.clone());
    out.insert(ACCESS_CONTROL_ALLOW_HEADERS, web.allowed.clone());
    if let Some(max_age) = &web.max_age {
        out.insert(ACCESS_CONTROL_MAX_AGE, max_age.clone());
    }
    response
}

/// Adds to a call's response the headers that let a page of an allowed origin
/// read it; adds nothing for other origins.
pub(super) fn add_response_headers(web: &Prepared, origin: &HeaderValue, response: &mut HeaderMap) {
    let Some(origin) = allow_origin(web, origin) else {
        return;
    };
    add_origin(web, response, origin);
    response.insert(ACCESS_CONTROL_EXPOSE_HEADERS, web.exposed.clone());
    response.append(VARY, HeaderValue::from_static("origin"));
}

/// What `Access-Control-Allow-Origin` says for `origin`, if it may call.
fn allow_origin(web: &Prepared, origin: &HeaderValue) -> Option<HeaderValue> {
    match &web.config.origins {
        Origins::Any => Some(ANY.clone()),
        Origins::Listed(listed) => listed
            .iter()
            .any(|allowed| allowed.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
            .then(|| origin.clone()),
    }
}

fn add_origin(web: &Prepared, headers: &mut HeaderMap, origin: HeaderValue) {
    // Credentials only ever go with a named origin, never with `*`.
    let credentials = web.config.credentials && origin != ANY;
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    if credentials {
        headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, TRUE.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::web::GrpcWeb;

    fn preflight_from(web: GrpcWeb, origin: &'static str) -> http::Response<()> {
        let mut headers = HeaderMap::new();
        headers.insert(ORIGIN, HeaderValue::from_static(origin));
        headers.insert(ACCESS_CONTROL_REQUEST_METHOD, POST.clone());
        preflight(&web.prepare(), &headers)
    }

    #[test]
    fn no_origin_but_the_servers_own_is_allowed_by_default() {
        let response = preflight_from(GrpcWeb::default(), "https://evil.example");
        assert_eq!(response.status(), http::StatusCode::FORBIDDEN);
        assert!(!response.headers().contains_key(ACCESS_CONTROL_ALLOW_ORIGIN));
    }

    #[test]
    fn a_listed_origin_is_echoed_with_methods_headers_and_max_age() {
        let web = GrpcWeb::default().allow_origin("https://app.example/");
        let response = preflight_from(web, "https://app.example");
        assert_eq!(response.status(), http::StatusCode::NO_CONTENT);
        let headers = response.headers();
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_ORIGIN], "https://app.example");
        assert_eq!(headers[ACCESS_CONTROL_ALLOW_METHODS], "POST");
        assert!(
            headers[ACCESS_CONTROL_ALLOW_HEADERS]
                .to_str()
                .unwrap()
                .contains("x-grpc-web")
        );
        assert_eq!(headers[ACCESS_CONTROL_MAX_AGE], "7200");
        assert!(!headers.contains_key(ACCESS_CONTROL_ALLOW_CREDENTIALS));
    }

    #[test]
    fn the_wildcard_never_goes_with_credentials() {
        let web = GrpcWeb::default()
            .allow_any_origin()
            .allow_credentials(true);
        let response = preflight_from(web, "https://any.example");
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(
            !response
                .headers()
                .contains_key(ACCESS_CONTROL_ALLOW_CREDENTIALS)
        );
    }

    #[test]
    fn a_listed_origin_gets_credentials_when_allowed() {
        let web = GrpcWeb::default()
            .allow_origin("https://app.example")
            .allow_credentials(true);
        let response = preflight_from(web, "https://app.example");
        assert_eq!(response.headers()[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    }
}
