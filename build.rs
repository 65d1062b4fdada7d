// A build script fails by returning the error: cargo shows it and stops.
fn main() -> Result<(), slint_build::CompileError> {
    let config = slint_build::CompilerConfiguration::new()
        .with_style("fluent".into())
        // The CJK font travels inside the binary: the terminal has no font of its own.
        .embed_resources(slint_build::EmbedResourcesKind::EmbedFiles)
        // Element ids for the headless UI tests (find_by_element_id).
        .with_debug_info(true)
        // English at a touch: translations/en/LC_MESSAGES/civic-kiosk.po (msgids without context).
        .with_bundled_translations("translations")
        .with_default_translation_context(slint_build::DefaultTranslationContext::None);
    println!("cargo:rerun-if-changed=translations");
    slint_build::compile_with_config("ui/app.slint", config)
}
