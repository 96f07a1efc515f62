//! Images the tests make: real encodings from the image crate, and the hostile files a seller
//! could upload.

use chrono::{DateTime, Utc};
use events::AuctionId;
use image::{DynamicImage, ImageFormat, Rgba, RgbaImage};
use photos::testing::{encoded, gradient};
pub use photos::testing::{jpeg, png, png_bomb};
use photos::{Photo, PhotoId};
use uuid::Uuid;

pub fn at() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap()
}

pub fn photo(auction: u128, id: u128) -> Photo {
    Photo {
        auction: AuctionId(Uuid::from_u128(auction)),
        id: PhotoId(Uuid::from_u128(id)),
    }
}

pub fn webp(width: u32, height: u32) -> Vec<u8> {
    encoded(
        DynamicImage::ImageRgb8(gradient(width, height)),
        ImageFormat::WebP,
    )
}

/// A PNG wholly transparent.
pub fn transparent_png(width: u32, height: u32) -> Vec<u8> {
    let image = RgbaImage::from_pixel(width, height, Rgba([0, 0, 0, 0]));
    encoded(DynamicImage::ImageRgba8(image), ImageFormat::Png)
}

/// A thumbnail's dimensions and format, read back.
pub fn read_back(bytes: &[u8]) -> (ImageFormat, u32, u32) {
    let format = image::guess_format(bytes).unwrap();
    let image = image::load_from_memory(bytes).unwrap();
    (format, image.width(), image.height())
}
