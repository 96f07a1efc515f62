//! The thumbnail function, on images the image crate made and on files a hostile or careless
//! seller could upload.

use std::time::Instant;

use image::ImageFormat;
use photos::limits::{MAX_ORIGINAL_BYTES, MAX_PIXELS, MAX_SIDE};
use photos::{Refusal, thumbnail};

use crate::support::{jpeg, png, png_bomb, read_back, transparent_png, webp};

#[test]
fn a_landscape_png_becomes_a_jpeg_that_fits_the_box() {
    // Given a 1200 x 800 PNG declared as one
    let original = png(1200, 800);

    // When it is thumbnailed
    let made = thumbnail(&original, "image/png").unwrap();

    // Then the thumbnail is a JPEG of 480 x 320, the aspect ratio kept
    assert_eq!(read_back(&made), (ImageFormat::Jpeg, 480, 320));
}

#[test]
fn a_portrait_jpeg_becomes_a_jpeg_that_fits_the_box() {
    // Given a 1000 x 1500 JPEG declared as one
    let original = jpeg(1000, 1500);

    // When it is thumbnailed
    let made = thumbnail(&original, "image/jpeg").unwrap();

    // Then the thumbnail is 320 x 480
    assert_eq!(read_back(&made), (ImageFormat::Jpeg, 320, 480));
}

#[test]
fn a_small_webp_is_not_enlarged() {
    // Given a 100 x 50 WebP declared as one
    let original = webp(100, 50);

    // When it is thumbnailed
    let made = thumbnail(&original, "image/webp").unwrap();

    // Then the thumbnail keeps its size
    assert_eq!(read_back(&made), (ImageFormat::Jpeg, 100, 50));
}

#[test]
fn a_transparent_png_becomes_white_not_black() {
    // Given a wholly transparent PNG (its hidden colour is black)
    let original = transparent_png(20, 20);

    // When it is thumbnailed
    let made = thumbnail(&original, "image/png").unwrap();

    // Then the thumbnail is white
    let pixel = image::load_from_memory(&made)
        .unwrap()
        .to_rgb8()
        .get_pixel(10, 10)
        .0;
    assert!(pixel.iter().all(|&c| c > 250), "{pixel:?}");
}

#[test]
fn a_text_file_named_png_is_not_an_image() {
    // Given a text file a browser declared as image/png from its name, photo.png
    let original = b"this is not a photo, it is a shopping list\n".to_vec();

    // When it is thumbnailed
    let refused = thumbnail(&original, "image/png");

    // Then it is refused as not an image, in words the seller can act on
    assert_eq!(refused, Err(Refusal::NotAnImage));
    assert_eq!(
        Refusal::NotAnImage.to_string(),
        "the file is not a JPEG, PNG or WebP image"
    );
}

#[test]
fn a_png_declared_as_a_jpeg_is_refused_as_a_mismatch() {
    // Given a real PNG declared as image/jpeg
    let original = png(64, 64);

    // When it is thumbnailed
    let refused = thumbnail(&original, "image/jpeg").unwrap_err();

    // Then the mismatch is named
    assert_eq!(
        refused,
        Refusal::TypeMismatch {
            declared: "image/jpeg".to_owned(),
            actual: "image/png".to_owned(),
        }
    );
    assert_eq!(
        refused.to_string(),
        "the file was declared as image/jpeg but is image/png"
    );
}

#[test]
fn a_declared_type_outside_the_list_is_unsupported() {
    // Given a GIF declared as one
    let original = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();

    // When it is thumbnailed
    let refused = thumbnail(&original, "image/gif");

    // Then the type is refused
    assert_eq!(
        refused,
        Err(Refusal::UnsupportedType {
            declared: "image/gif".to_owned()
        })
    );
}

#[test]
fn a_gif_declared_as_a_png_is_not_an_image_we_take() {
    // Given a GIF's bytes declared as image/png
    let original = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();

    // When it is thumbnailed
    let refused = thumbnail(&original, "image/png");

    // Then it is refused: the magic bytes decide, and GIF is not accepted
    assert_eq!(refused, Err(Refusal::NotAnImage));
}

#[test]
fn a_file_over_ten_mebibytes_is_too_large() {
    // Given a real PNG padded past the limit
    let mut original = png(16, 16);
    original.resize(MAX_ORIGINAL_BYTES as usize + 1, 0);

    // When it is thumbnailed
    let refused = thumbnail(&original, "image/png").unwrap_err();

    // Then it is refused for its size
    assert_eq!(
        refused,
        Refusal::TooLarge {
            size: MAX_ORIGINAL_BYTES + 1,
            limit: MAX_ORIGINAL_BYTES,
        }
    );
    assert_eq!(
        refused.to_string(),
        "the file is 10485761 bytes; a photo can be at most 10485760 bytes (10 MiB)"
    );
}

#[test]
fn an_empty_file_is_refused() {
    // Given nothing at all declared as a JPEG
    // When it is thumbnailed
    let refused = thumbnail(&[], "image/jpeg");

    // Then it is refused as empty
    assert_eq!(refused, Err(Refusal::Empty));
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    // Given a complete, valid PNG of 12,000 x 12,000 one-bit pixels: 144 million pixels
    // (each side within the limit, the count over it) in a file of a few kilobytes
    let bomb = png_bomb(12_000, 12_000);
    assert!(bomb.len() < 20 * 1024, "the bomb is {} bytes", bomb.len());

    // When it is thumbnailed
    let started = Instant::now();
    let refused = thumbnail(&bomb, "image/png").unwrap_err();

    // Then it is refused for its pixels, before decoding: at once
    assert_eq!(
        refused,
        Refusal::TooManyPixels {
            width: 12_000,
            height: 12_000,
            max_pixels: MAX_PIXELS,
            max_side: MAX_SIDE,
        }
    );
    assert!(
        started.elapsed().as_millis() < 500,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        refused.to_string(),
        "the image is 12000 x 12000 pixels; a photo can have at most 40000000 pixels and \
         12000 pixels on a side"
    );
}

#[test]
fn a_bomb_of_fifty_thousand_pixels_a_side_is_refused() {
    // Given a complete, valid PNG of 50,000 x 50,000 one-bit pixels (2.5 billion, 312 MB of
    // zlib'd zero rows) in a few hundred kilobytes
    let bomb = png_bomb(50_000, 50_000);
    assert!(bomb.len() < 320 * 1024, "the bomb is {} bytes", bomb.len());

    // When it is thumbnailed
    let refused = thumbnail(&bomb, "image/png").map(|_| "a thumbnail");

    // Then it is refused for its pixels
    assert!(
        matches!(
            refused,
            Err(Refusal::TooManyPixels {
                width: 50_000,
                height: 50_000,
                ..
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_bomb_built_by_hand_is_a_valid_png() {
    // Given a PNG built as the bombs are, small enough to decode: 2,000 x 2,000
    let original = png_bomb(2_000, 2_000);

    // When it is thumbnailed
    let made = thumbnail(&original, "image/png").unwrap();

    // Then it decodes, to black, so that the bombs above are real images and not just headers
    assert_eq!(read_back(&made), (ImageFormat::Jpeg, 480, 480));
    let pixel = image::load_from_memory(&made)
        .unwrap()
        .to_rgb8()
        .get_pixel(240, 240)
        .0;
    assert!(pixel.iter().all(|&c| c < 5), "{pixel:?}");
}

#[test]
fn a_strip_within_the_pixel_count_but_too_long_a_side_is_refused() {
    // Given a 12,001 x 1 PNG: few pixels, one side over the limit
    let original = png(MAX_SIDE + 1, 1);

    // When it is thumbnailed
    let refused = thumbnail(&original, "image/png").map(|_| "a thumbnail");

    // Then it is refused for its side
    assert!(
        matches!(
            refused,
            Err(Refusal::TooManyPixels {
                width: 12_001,
                height: 1,
                ..
            })
        ),
        "{refused:?}"
    );
}

#[test]
fn a_truncated_png_is_corrupt() {
    // Given a PNG cut off halfway through its pixels (its header whole)
    let mut original = png(300, 200);
    original.truncate(original.len() / 2);

    // When it is thumbnailed
    let refused = thumbnail(&original, "image/png").map(|_| "a thumbnail");

    // Then it is refused as damaged
    assert!(
        matches!(&refused, Err(Refusal::Corrupt { detail }) if !detail.is_empty()),
        "{refused:?}"
    );
    assert!(
        refused
            .unwrap_err()
            .to_string()
            .starts_with("the image is damaged and cannot be read: ")
    );
}

#[test]
fn the_same_original_gives_the_same_thumbnail() {
    // Given a JPEG
    let original = jpeg(900, 600);

    // When it is thumbnailed twice
    let first = thumbnail(&original, "image/jpeg").unwrap();
    let second = thumbnail(&original, "image/jpeg").unwrap();

    // Then the bytes are the same (running the step again rewrites the same object)
    assert_eq!(first, second);
}
