//! Prints the OpenAPI document: `cargo run -p edgepurge-openapi > docs/openapi.json`.

fn main() {
    match serde_json::to_string_pretty(&edgepurge_openapi::document()) {
        Ok(text) => println!("{text}"),
        Err(e) => {
            eprintln!("edgepurge-openapi: {e}");
            std::process::exit(1);
        }
    }
}
