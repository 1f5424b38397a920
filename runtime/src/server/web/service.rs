//! The gRPC-Web front of a server: a gRPC-Web request becomes the gRPC call it
//! stands for, its response goes back as gRPC-Web, and CORS preflights are
//! answered here. Other requests pass through as they are.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::HeaderValue;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use tower::Service;

use crate::base::body::{BoxBody, BoxFuture};
use crate::server::web::body::{Mode, WebBody};
use crate::server::web::config::Prepared;
use crate::server::web::drain::Leftover;
use crate::server::web::{cors, text};

/// Serves gRPC-Web (and CORS preflights) in front of `inner`.
#[derive(Clone)]
pub(crate) struct WebService<S> {
    inner: S,
    web: Arc<Prepared>,
}

impl<S> WebService<S> {
    pub(crate) fn new(inner: S, web: Arc<Prepared>) -> Self {
        Self { inner, web }
    }
}

impl<S, B> Service<http::Request<BoxBody>> for WebService<S>
where
    S: Service<http::Request<BoxBody>, Response = http::Response<B>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<WebBody<B>>;
    type Error = S::Error;
    type Future = BoxFuture<Self::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<BoxBody>) -> Self::Future {
        if cors::is_preflight(&request) {
            let response = cors::preflight(&self.web, request.headers()).map(|()| WebBody::empty());
            return Box::pin(std::future::ready(Ok(response)));
        }
        let web = request.headers().get(CONTENT_TYPE).and_then(|value| {
            let web = WebType::parse(value.as_bytes())?;
            Some((web, value.clone()))
        });
        let Some((web, response_type)) = web else {
            let call = self.inner.call(request);
            return Box::pin(async move {
                Ok(call.await?.map(|body| WebBody::new(body, Mode::Native)))
            });
        };
        let origin = request.headers().get(http::header::ORIGIN).cloned();
        let leftover = (request.version() < http::Version::HTTP_2).then(|| {
            let leftover = Leftover::default();
            request = std::mem::take(&mut request).map(|body| leftover.track(body));
            leftover
        });
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, web.grpc);
        if web.mode == Mode::Text {
            headers.remove(CONTENT_LENGTH);
            request = request.map(|body| BoxBody::new(text::DecodeBody::new(body)));
        }
        let call = self.inner.call(request);
        let prepared = Arc::clone(&self.web);
        Box::pin(async move {
            let mut response = call.await?;
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, response_type);
            headers.remove(CONTENT_LENGTH);
            if let Some(origin) = &origin {
                cors::add_response_headers(&prepared, origin, headers);
            }
            Ok(response.map(|body| {
                let body = WebBody::new(body, web.mode);
                match leftover {
                    Some(leftover) => body.draining(leftover),
                    None => body,
                }
            }))
        })
    }
}

/// What a gRPC-Web content type asks for.
#[derive(Debug, PartialEq, Eq)]
struct WebType {
    mode: Mode,
    /// The content type of the gRPC call it stands for.
    grpc: HeaderValue,
}

impl WebType {
    /// `application/grpc-web[-text][+codec][;params]`, case as sent.
    fn parse(value: &[u8]) -> Option<Self> {
        let rest = value.strip_prefix(b"application/grpc-web")?;
        let (mode, rest) = match rest.strip_prefix(b"-text") {
            Some(rest) => (Mode::Text, rest),
            None => (Mode::Binary, rest),
        };
        if !matches!(rest.first(), None | Some(b'+' | b';')) {
            return None;
        }
        let mut grpc = b"application/grpc".to_vec();
        grpc.extend_from_slice(rest);
        Some(Self {
            mode,
            grpc: HeaderValue::from_bytes(&grpc).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: &str) -> Option<(Mode, String)> {
        WebType::parse(value.as_bytes())
            .map(|web| (web.mode, web.grpc.to_str().unwrap().to_owned()))
    }

    #[test]
    fn the_four_content_types_map_to_grpc() {
        let binary = Some((Mode::Binary, "application/grpc".to_owned()));
        assert_eq!(parse("application/grpc-web"), binary);
        assert_eq!(
            parse("application/grpc-web+proto"),
            Some((Mode::Binary, "application/grpc+proto".to_owned()))
        );
        assert_eq!(
            parse("application/grpc-web-text"),
            Some((Mode::Text, "application/grpc".to_owned()))
        );
        assert_eq!(
            parse("application/grpc-web-text+proto"),
            Some((Mode::Text, "application/grpc+proto".to_owned()))
        );
    }

    #[test]
    fn other_content_types_are_not_grpc_web() {
        assert_eq!(parse("application/grpc"), None);
        assert_eq!(parse("application/grpc+proto"), None);
        assert_eq!(parse("application/grpc-webx"), None);
        assert_eq!(parse("text/plain"), None);
    }
}
