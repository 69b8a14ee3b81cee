//! The tutorial's backend (filled in by the tutorial-flow issue).
