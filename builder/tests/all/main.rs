//! Integration tests of paas-builder: real buildpacks, real processes, real git.

mod buildpacks;
mod contract;
mod git;
mod go;
mod limits;
mod native;
mod nodejs;
mod php_java;
mod python;
mod ruby;
mod support;
mod tenant_files;
