//! Server-rendered pages (placeholder until the pages land).

/// Adds every page route to `route`.
pub fn mount(route: poem::Route) -> poem::Route {
    route
}
