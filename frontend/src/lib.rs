//! The browser entry point: hydrates the page the server rendered, after loading the
//! WebAssembly chunk of its route when the route is a lazy one.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}
