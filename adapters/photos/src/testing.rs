//! What tests of photos start from (cargo feature `testing`, which only dev-dependencies
//! enable): real encodings from the image crate, a real decompression bomb, and a grant's form
//! posted as a browser posts it. Panics where a test would fail anyway.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Cursor;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::StatusCode;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

use crate::grant::Grant;

pub fn encoded(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, format).unwrap();
    bytes.into_inner()
}

/// A gradient, so that the encoders have something to compress.
pub fn gradient(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    })
}

pub fn png(width: u32, height: u32) -> Vec<u8> {
    encoded(
        DynamicImage::ImageRgb8(gradient(width, height)),
        ImageFormat::Png,
    )
}

pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encoded(
        DynamicImage::ImageRgb8(gradient(width, height)),
        ImageFormat::Jpeg,
    )
}

/// A complete, valid PNG of `width` x `height` black pixels at one bit each (zero rows): a
/// decompression bomb. Built by hand, because compressing hundreds of megabytes of zeros in a
/// debug build takes seconds: rows are compressed a block at a time with a full flush, which
/// makes each block stand alone, so the one block repeats to make the whole stream.
pub fn png_bomb(width: u32, height: u32) -> Vec<u8> {
    const ROWS_PER_BLOCK: u32 = 1000;
    assert_eq!(height % ROWS_PER_BLOCK, 0, "whole blocks of rows only");
    // Each row is its filter byte (0, none) and its packed bits.
    let row = 1 + width.div_ceil(8) as usize;
    let block = vec![0u8; row * ROWS_PER_BLOCK as usize];
    let mut deflater = flate2::Compress::new(flate2::Compression::best(), false);
    let mut compressed = Vec::with_capacity(block.len() / 100 + 1024);
    while (deflater.total_in() as usize) < block.len() {
        let rest = &block[deflater.total_in() as usize..];
        compressed.reserve(1024);
        deflater
            .compress_vec(rest, &mut compressed, flate2::FlushCompress::Full)
            .unwrap();
    }

    // zlib: header (deflate, best), the blocks, an empty final block, then the Adler-32 of
    // the data, which for zeros only is a = 1 and b = length mod 65521.
    let mut zlib = vec![0x78, 0xDA];
    for _ in 0..height / ROWS_PER_BLOCK {
        zlib.extend_from_slice(&compressed);
    }
    zlib.extend_from_slice(&[0x03, 0x00]);
    let length = row as u64 * u64::from(height);
    zlib.extend_from_slice(&((((length % 65_521) << 16) | 1) as u32).to_be_bytes());

    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    // Bit depth 1, greyscale, deflate, adaptive filtering, not interlaced.
    header.extend_from_slice(&[1, 0, 0, 0, 0]);

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(b"IHDR", header), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(&data);
        png.extend_from_slice(kind);
        png.extend_from_slice(&data);
        png.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    png
}

/// Posts the grant's form with `file` as `content_type`, as a browser does; the status.
pub async fn post_form(grant: &Grant, content_type: &str, file: Vec<u8>) -> StatusCode {
    let boundary = "photos-test-boundary";
    let mut body = Vec::new();
    for (name, value) in &grant.fields {
        let value = if name == "Content-Type" {
            content_type
        } else {
            value
        };
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let request = hyper::Request::post(&grant.url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let http: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = http.request(request).await.unwrap();
    let status = response.status();
    response.into_body().collect().await.unwrap();
    status
}
