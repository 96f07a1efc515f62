//! A thumbnail from an original's bytes, or why there is none: pure, no I/O.
//!
//! Nothing about the file is trusted: the format comes from its magic bytes, not from its
//! declared type or name; its dimensions are read from the header and checked before anything
//! is decoded; and the decoder runs under limits, so that a header that lies about its size
//! still cannot make it allocate more than [`MAX_DECODE_BYTES`].

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use crate::error::Refusal;
use crate::limits::{
    MAX_DECODE_BYTES, MAX_ORIGINAL_BYTES, MAX_PIXELS, MAX_SIDE, THUMBNAIL_JPEG_QUALITY,
    THUMBNAIL_SIDE,
};

/// The accepted formats, by content type.
fn format_of(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/png" => Some(ImageFormat::Png),
        "image/webp" => Some(ImageFormat::WebP),
        _ => None,
    }
}

/// The thumbnail (a JPEG fitting in [`THUMBNAIL_SIDE`] square) of `original`, declared as
/// `declared` (its object's Content-Type), or why it is refused.
pub fn thumbnail(original: &[u8], declared: &str) -> Result<Vec<u8>, Refusal> {
    let Some(expected) = format_of(declared) else {
        return Err(Refusal::UnsupportedType {
            declared: declared.to_owned(),
        });
    };
    let size = original.len() as u64;
    if size == 0 {
        return Err(Refusal::Empty);
    }
    if size > MAX_ORIGINAL_BYTES {
        return Err(Refusal::TooLarge {
            size,
            limit: MAX_ORIGINAL_BYTES,
        });
    }
    let actual = sniff(original)?;
    if actual != expected {
        return Err(Refusal::TypeMismatch {
            declared: declared.to_owned(),
            actual: actual.to_mime_type().to_owned(),
        });
    }
    let (width, height) = dimensions(original, actual)?;
    let too_many = u64::from(width) * u64::from(height) > MAX_PIXELS;
    if too_many || width > MAX_SIDE || height > MAX_SIDE {
        return Err(Refusal::TooManyPixels {
            width,
            height,
            max_pixels: MAX_PIXELS,
            max_side: MAX_SIDE,
        });
    }
    let image = decode(original, actual)?;
    encode(&fit(image))
}

/// The format the magic bytes say, if it is an accepted one.
fn sniff(original: &[u8]) -> Result<ImageFormat, Refusal> {
    match image::guess_format(original) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => Ok(format),
        _ => Err(Refusal::NotAnImage),
    }
}

/// The width and height the header declares, read without decoding any pixels: no limits yet,
/// so that a bomb's real dimensions can be told to the seller rather than a decoder's error.
fn dimensions(original: &[u8], format: ImageFormat) -> Result<(u32, u32), Refusal> {
    let mut reader = ImageReader::with_format(Cursor::new(original), format);
    reader.no_limits();
    reader.into_dimensions().map_err(corrupt)
}

fn decode(original: &[u8], format: ImageFormat) -> Result<DynamicImage, Refusal> {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    let mut reader = ImageReader::with_format(Cursor::new(original), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(corrupt)?;
    // A phone stores the picture as the sensor saw it and says in EXIF how to turn it: without
    // this, portrait photos' thumbnails lie on their side.
    let orientation = decoder.orientation().map_err(corrupt)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(corrupt)?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// `image` fitted in the thumbnail's box, on white where it was transparent (JPEG has no
/// alpha, and dropping it would turn transparent pixels into whatever colour they hide).
fn fit(image: DynamicImage) -> RgbImage {
    let fitted = if image.width() > THUMBNAIL_SIDE || image.height() > THUMBNAIL_SIDE {
        image.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        image
    };
    if !fitted.color().has_alpha() {
        return fitted.to_rgb8();
    }
    let rgba = fitted.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white = |c: u8| {
            let (c, a) = (u16::from(c), u16::from(a));
            // (c·a + 255·(255 − a)) / 255, rounded; at most 255, so the cast keeps it whole.
            ((c * a + 255 * (255 - a) + 127) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

fn encode(thumbnail: &RgbImage) -> Result<Vec<u8>, Refusal> {
    let mut bytes = Vec::new();
    JpegEncoder::new_with_quality(&mut bytes, THUMBNAIL_JPEG_QUALITY)
        .encode_image(thumbnail)
        .map_err(corrupt)?;
    Ok(bytes)
}

/// A decoder's or encoder's failure, as the seller is told it. A limit hit while decoding means
/// the header understated what the data needs: the file is crafted, not a photo.
fn corrupt(error: ImageError) -> Refusal {
    Refusal::Corrupt {
        detail: error.to_string(),
    }
}
