//! Every limit on a seller's photos, in one place: the grant binds the upload to them, the
//! thumbnailing step checks them again on what actually arrived.

/// Photos one auction may have.
pub const MAX_PHOTOS_PER_AUCTION: usize = 8;

/// Bytes one original may have (10 MiB): a phone's full-resolution JPEG fits; anything bigger
/// is not worth a Lambda's memory to read.
pub const MAX_ORIGINAL_BYTES: u64 = 10 * 1024 * 1024;

/// The content types a seller may declare, and the only formats the decoder is asked to read.
pub const CONTENT_TYPES: [&str; 3] = ["image/jpeg", "image/png", "image/webp"];

/// Whether `content_type` is one a seller may declare.
pub fn is_accepted(content_type: &str) -> bool {
    CONTENT_TYPES.contains(&content_type)
}

/// Pixels one original may have (40 million, a 50 MP camera's frame would not fit; a phone's
/// does). A decompression bomb is a small file whose header promises far more: this is checked
/// on the header before a single row is decoded.
pub const MAX_PIXELS: u64 = 40_000_000;

/// Pixels on either side. Without it a 40,000,000 x 1 strip would pass the pixel limit.
pub const MAX_SIDE: u32 = 12_000;

/// What a decoder may allocate at once: the largest accepted image in the widest format the
/// decoders produce (40 Mpx of 16-bit RGBA, 320 MB) and the decoder's own buffers. The Lambda's
/// memory must exceed this by its baseline.
pub const MAX_DECODE_BYTES: u64 = 512 * 1024 * 1024;

/// The box a thumbnail fits in, aspect ratio kept; smaller originals are not enlarged.
pub const THUMBNAIL_SIDE: u32 = 480;

/// The thumbnail's JPEG quality: small files for a listing page, artefacts hard to see at
/// 480 px.
pub const THUMBNAIL_JPEG_QUALITY: u8 = 80;

/// The thumbnail's content type.
pub const THUMBNAIL_CONTENT_TYPE: &str = "image/jpeg";

/// How long an upload grant can be used: long enough to send 10 MiB from a slow phone
/// connection, short enough that a leaked grant is soon worthless.
pub const GRANT_SECONDS: i64 = 5 * 60;
