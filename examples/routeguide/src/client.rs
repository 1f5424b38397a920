//! A client that makes each of the four calls once and prints the results.

use std::error::Error;

use crate::map::Degrees;
use crate::pb::route_guide_client::RouteGuideClient;
use crate::pb::{Point, Rectangle, RouteNote};

/// Connects to `uri` and makes every call.
pub(crate) async fn run(uri: &str) -> Result<(), Box<dyn Error>> {
    let client = RouteGuideClient::connect(uri.to_owned()).await?;
    get_feature(&client).await?;
    list_features(&client).await?;
    record_route(&client).await?;
    route_chat(&client).await?;
    Ok(())
}

fn point(latitude: i32, longitude: i32) -> Point {
    Point {
        latitude,
        longitude,
    }
}

/// Unary: one point in, one feature out.
async fn get_feature(client: &RouteGuideClient) -> Result<(), Box<dyn Error>> {
    for at in [point(460_790_000, 71_102_000), point(0, 0)] {
        let feature = client.get_feature(at).await?.into_inner();
        if feature.name.is_empty() {
            println!("GetFeature{} -> nothing there", Degrees(at));
        } else {
            println!("GetFeature{} -> {:?}", Degrees(at), feature.name);
        }
    }
    Ok(())
}

/// Server streaming: one rectangle in, a stream of features out.
async fn list_features(client: &RouteGuideClient) -> Result<(), Box<dyn Error>> {
    let (lo, hi) = (
        point(460_000_000, 70_000_000),
        point(461_200_000, 71_600_000),
    );
    println!("ListFeatures{} to {}:", Degrees(lo), Degrees(hi));
    let rectangle = Rectangle {
        lo: Some(lo),
        hi: Some(hi),
    };
    let mut features = client.list_features(rectangle).await?.into_inner();
    while let Some(feature) = features.message().await? {
        let at = feature.location.unwrap_or_default();
        println!("  {:?} at {}", feature.name, Degrees(at));
    }
    Ok(())
}

/// Client streaming: a stream of points in, one summary out.
async fn record_route(client: &RouteGuideClient) -> Result<(), Box<dyn Error>> {
    // Three known features with two unnamed points between them.
    let route = vec![
        point(460_512_000, 70_521_000),
        point(460_600_000, 70_700_000),
        point(460_634_000, 70_810_000),
        point(460_700_000, 70_950_000),
        point(460_790_000, 71_102_000),
    ];
    let sent = route.len();
    let summary = client
        .record_route(rust_grpc::stream::iter(route))
        .await?
        .into_inner();
    println!(
        "RecordRoute({sent} points) -> {} points, {} features, {} m, {} s",
        summary.point_count, summary.feature_count, summary.distance, summary.elapsed_time
    );
    Ok(())
}

/// Bidirectional streaming: a stream of notes in, a stream of earlier notes out.
async fn route_chat(client: &RouteGuideClient) -> Result<(), Box<dyn Error>> {
    let (bridge, inn) = (
        point(460_512_000, 70_521_000),
        point(461_801_000, 72_744_000),
    );
    let notes = [
        (bridge, "the bridge creaks"),
        (inn, "the inn is closed on Mondays"),
        (bridge, "fixed the loose plank"),
        (inn, "open again"),
        (bridge, "heron spotted upstream"),
    ]
    .map(|(location, message)| RouteNote {
        location: Some(location),
        message: message.to_owned(),
    });
    println!("RouteChat: sending {} notes", notes.len());
    let mut replies = client
        .route_chat(rust_grpc::stream::iter(notes))
        .await?
        .into_inner();
    while let Some(note) = replies.message().await? {
        let at = note.location.unwrap_or_default();
        println!("  earlier note at {}: {:?}", Degrees(at), note.message);
    }
    Ok(())
}
