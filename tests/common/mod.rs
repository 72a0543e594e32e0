//! Helpers shared by the integration tests: fresh databases, real mail
//! servers on loopback, headless Chromium. Each test binary uses a part.
#![allow(dead_code)]
