// Loads the console's wasm (same origin; the CSP allows nothing else) and mounts it.
import init, { mount } from "/pkg/edgepurge_web.js";

await init();
mount();
