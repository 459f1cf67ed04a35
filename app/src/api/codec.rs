//! How server functions encode their results: JSON, decoded in the browser from text.
//!
//! Leptos decodes the resources a page was rendered with by `serde_json::from_str`, and
//! its stock JSON codec decodes server-function responses by `serde_json::from_slice`.
//! serde_json monomorphises a deserialiser per reader, so with both every result type's
//! decoder was in the browser's WebAssembly twice. [`Json`] decodes responses from text
//! too, leaving one copy. The bytes on the wire are the same `application/json`.

use super::AppError;
use super::error::ErrorBody;
use leptos::server_fn::codec::Post;
use leptos::server_fn::{ContentType, Decodes, Encodes, Format, FormatType};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The encoding: `application/json`, read as UTF-8 text.
pub struct JsonText;

/// A server function's output encoding: `#[server(output = crate::api::codec::Json)]`.
pub type Json = Post<JsonText>;

impl ContentType for JsonText {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for JsonText {
    const FORMAT_TYPE: Format = Format::Text;
}

impl<T: Serialize> Encodes<T> for JsonText {
    type Error = serde_json::Error;

    fn encode(output: &T) -> Result<leptos::server_fn::Bytes, Self::Error> {
        serde_json::to_vec(output).map(Into::into)
    }
}

impl<T: DeserializeOwned> Decodes<T> for JsonText {
    type Error = serde_json::Error;

    fn decode(bytes: leptos::server_fn::Bytes) -> Result<T, Self::Error> {
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            <serde_json::Error as serde::de::Error>::custom("the response is not UTF-8")
        })?;
        serde_json::from_str(text)
    }
}

/// How server functions' errors travel: in the REST API's envelope, `{"error": {…}}`, so
/// that every endpoint under `/api` fails in one shape.
pub struct ErrorJson;

impl ContentType for ErrorJson {
    const CONTENT_TYPE: &'static str = "application/json";
}

impl FormatType for ErrorJson {
    const FORMAT_TYPE: Format = Format::Text;
}

impl Encodes<AppError> for ErrorJson {
    type Error = serde_json::Error;

    fn encode(error: &AppError) -> Result<leptos::server_fn::Bytes, Self::Error> {
        #[derive(Serialize)]
        #[cfg_attr(feature = "ssr", derive(schemars::JsonSchema))]
        struct Envelope<'a> {
            error: &'a AppError,
        }
        serde_json::to_vec(&Envelope { error }).map(Into::into)
    }
}

impl Decodes<AppError> for ErrorJson {
    type Error = serde_json::Error;

    fn decode(bytes: leptos::server_fn::Bytes) -> Result<AppError, Self::Error> {
        <JsonText as Decodes<ErrorBody>>::decode(bytes).map(|body| body.error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ErrorCode;

    #[test]
    fn errors_travel_in_the_envelope() {
        let error = AppError::new(ErrorCode::Forbidden, "No.");
        let bytes = <ErrorJson as Encodes<AppError>>::encode(&error).unwrap();
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["error"]["code"], "forbidden");
        assert_eq!(
            <ErrorJson as Decodes<AppError>>::decode(bytes).unwrap(),
            error
        );
    }

    #[test]
    fn round_trips_and_rejects_bad_bytes() {
        let bytes = <JsonText as Encodes<Vec<&str>>>::encode(&vec!["a", "é"]).unwrap();
        let back: Vec<String> = <JsonText as Decodes<Vec<String>>>::decode(bytes).unwrap();
        assert_eq!(back, ["a", "é"]);
        let bad = leptos::server_fn::Bytes::from_static(b"[\"\xff\"]");
        let err = <JsonText as Decodes<Vec<String>>>::decode(bad).unwrap_err();
        assert!(err.to_string().contains("UTF-8"), "{err}");
    }
}
