//! The made-up map the server knows, and the geometry on it.

use std::fmt;

use crate::pb::{Feature, Point};

/// The features on the map: a name, then latitude and longitude in E7 units.
const FEATURES: [(&str, i32, i32); 12] = [
    ("Old Mill Bridge", 460_512_000, 70_521_000),
    ("Heron Pond", 460_634_000, 70_810_000),
    ("Lookout Rock", 460_790_000, 71_102_000),
    ("Cedar Hut", 460_921_000, 71_345_000),
    ("Three Pines Junction", 461_043_000, 70_987_000),
    ("Quarry Steps", 461_187_000, 71_533_000),
    ("Fox Hollow", 461_302_000, 71_760_000),
    ("Bell Tower", 461_425_000, 72_011_000),
    ("Silver Falls", 461_550_000, 72_289_000),
    ("Shepherd's Gate", 461_678_000, 72_502_000),
    ("Lantern Inn", 461_801_000, 72_744_000),
    ("North Cairn", 461_933_000, 72_990_000),
];

/// Every feature on the map.
pub(crate) fn features() -> Vec<Feature> {
    FEATURES
        .iter()
        .map(|&(name, latitude, longitude)| Feature {
            name: name.to_owned(),
            location: Some(Point {
                latitude,
                longitude,
            }),
        })
        .collect()
}

/// Whether `point` lies inside the rectangle with corners `lo` and `hi` (in
/// either order), edges included.
pub(crate) fn in_rectangle(lo: Point, hi: Point, point: Point) -> bool {
    let (south, north) = (lo.latitude.min(hi.latitude), lo.latitude.max(hi.latitude));
    let (west, east) = (
        lo.longitude.min(hi.longitude),
        lo.longitude.max(hi.longitude),
    );
    (south..=north).contains(&point.latitude) && (west..=east).contains(&point.longitude)
}

/// The great-circle distance between two points in metres, by the haversine
/// formula.
pub(crate) fn distance(from: Point, to: Point) -> i32 {
    const EARTH_RADIUS_METRES: f64 = 6_371_000.0;
    let (lat1, lat2) = (radians(from.latitude), radians(to.latitude));
    let half_dlat = (lat2 - lat1) / 2.0;
    let half_dlon = (radians(to.longitude) - radians(from.longitude)) / 2.0;
    let a = half_dlat.sin().powi(2) + lat1.cos() * lat2.cos() * half_dlon.sin().powi(2);
    let central_angle = 2.0 * a.sqrt().atan2((1.0 - a).sqrt());
    // Saturates at i32::MAX; no two points on Earth are that far apart.
    (EARTH_RADIUS_METRES * central_angle).round() as i32
}

fn radians(e7: i32) -> f64 {
    (f64::from(e7) / 1e7).to_radians()
}

/// Shows a point in degrees: `(46.0512, 7.0521)`.
pub(crate) struct Degrees(pub(crate) Point);

impl fmt::Display for Degrees {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "({:.4}, {:.4})",
            f64::from(self.0.latitude) / 1e7,
            f64::from(self.0.longitude) / 1e7
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(latitude: i32, longitude: i32) -> Point {
        Point {
            latitude,
            longitude,
        }
    }

    #[test]
    fn distance_from_a_point_to_itself_is_zero() {
        let p = point(460_512_000, 70_521_000);
        assert_eq!(distance(p, p), 0);
    }

    #[test]
    fn one_degree_of_latitude_is_about_111_km() {
        assert_eq!(distance(point(0, 0), point(10_000_000, 0)), 111_195);
    }

    #[test]
    fn rectangle_corners_may_come_in_either_order() {
        let (a, b) = (point(0, 0), point(10, 10));
        assert!(in_rectangle(a, b, point(5, 10)));
        assert!(in_rectangle(b, a, point(5, 10)));
        assert!(!in_rectangle(b, a, point(5, 11)));
    }

    #[test]
    fn degrees_show_four_decimals() {
        assert_eq!(
            Degrees(point(460_512_000, -70_521_000)).to_string(),
            "(46.0512, -7.0521)"
        );
    }
}
