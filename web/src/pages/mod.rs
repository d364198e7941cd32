//! One component per page of the console, chosen by [`crate::app::Page`].

mod history;
mod instances;
mod people;
mod purge;
mod verify;

pub use history::HistoryView;
pub use instances::InstancesPage;
pub use people::PeoplePage;
pub use purge::PurgePage;
pub use verify::VerifyPage;
