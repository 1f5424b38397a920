//! The `RouteGuide` service.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rust_grpc::{BoxStream, Request, Response, Status, Streaming, stream};

use crate::map;
use crate::pb::route_guide_server::RouteGuide;
use crate::pb::{Feature, Point, Rectangle, RouteNote, RouteSummary};

/// Answers from the built-in map, and remembers the notes left by `RouteChat`.
pub(crate) struct RouteGuideService {
    features: Vec<Feature>,
    /// Shared with the tasks that answer `RouteChat` calls.
    notes: Arc<Mutex<HashMap<Point, Vec<RouteNote>>>>,
}

impl RouteGuideService {
    pub(crate) fn new() -> Self {
        Self {
            features: map::features(),
            notes: Arc::default(),
        }
    }

    fn is_feature(&self, point: Point) -> bool {
        self.features.iter().any(|f| f.location == Some(point))
    }
}

impl RouteGuide for RouteGuideService {
    async fn get_feature(&self, request: Request<Point>) -> Result<Response<Feature>, Status> {
        let point = request.into_inner();
        let feature = self
            .features
            .iter()
            .find(|f| f.location == Some(point))
            .cloned()
            .unwrap_or(Feature {
                name: String::new(),
                location: Some(point),
            });
        Ok(Response::new(feature))
    }

    async fn list_features(
        &self,
        request: Request<Rectangle>,
    ) -> Result<Response<BoxStream<Feature>>, Status> {
        let Rectangle {
            lo: Some(lo),
            hi: Some(hi),
        } = request.into_inner()
        else {
            return Err(Status::invalid_argument("a rectangle needs both corners"));
        };
        let found: Vec<Feature> = self
            .features
            .iter()
            .filter(|f| f.location.is_some_and(|p| map::in_rectangle(lo, hi, p)))
            .cloned()
            .collect();
        Ok(Response::new(stream::boxed(stream::iter(found))))
    }

    async fn record_route(
        &self,
        request: Request<Streaming<Point>>,
    ) -> Result<Response<RouteSummary>, Status> {
        let mut points = request.into_inner();
        let start = Instant::now();
        let mut summary = RouteSummary::default();
        let mut previous = None;
        while let Some(point) = points.message().await? {
            summary.point_count += 1;
            if self.is_feature(point) {
                summary.feature_count += 1;
            }
            if let Some(previous) = previous {
                summary.distance += map::distance(previous, point);
            }
            previous = Some(point);
        }
        summary.elapsed_time = i32::try_from(start.elapsed().as_secs()).unwrap_or(i32::MAX);
        Ok(Response::new(summary))
    }

    async fn route_chat(
        &self,
        request: Request<Streaming<RouteNote>>,
    ) -> Result<Response<BoxStream<RouteNote>>, Status> {
        let mut incoming = request.into_inner();
        let notes = Arc::clone(&self.notes);
        // At most 16 replies wait for the client; past that, `send` waits.
        let (replies, answers) = stream::channel(16);
        // Read the client's notes as they arrive and answer each one, while the
        // response stream is already flowing back.
        tokio::spawn(async move {
            loop {
                let note = match incoming.message().await {
                    Ok(Some(note)) => note,
                    Ok(None) => return,
                    Err(status) => {
                        let _ = replies.send(Err(status)).await;
                        return;
                    }
                };
                let Some(location) = note.location else {
                    let status = Status::invalid_argument("a note needs a location");
                    let _ = replies.send(Err(status)).await;
                    return;
                };
                let earlier = {
                    let mut notes = notes.lock().unwrap_or_else(PoisonError::into_inner);
                    let here = notes.entry(location).or_default();
                    let earlier = here.clone();
                    here.push(note);
                    earlier
                };
                for note in earlier {
                    if replies.send(note).await.is_err() {
                        return; // The client hung up.
                    }
                }
            }
        });
        Ok(Response::new(answers))
    }
}
