use std::path::Path;

use sotto_relay_config::{Profile, ProfileError, LOCAL_PROFILE_TOML};

/// The profile a command uses: the file given, else the shipped local profile together with
/// what `sotto stack up` wrote under `$SOTTO_HOME/stack`.
pub fn load(path: Option<&Path>) -> Result<Profile, ProfileError> {
    match path {
        Some(p) => Profile::load(p),
        None => local(),
    }
}

/// The shipped local profile, resolved against `$SOTTO_HOME`.
pub fn local() -> Result<Profile, ProfileError> {
    Profile::parse(LOCAL_PROFILE_TOML, &sotto_relay_config::stack_dir().join("local.toml"))
}

/// The profile's structure only (for `stack up`, before measurements exist) and its
/// `[local_stack]` section.
pub fn local_stack_settings(path: Option<&Path>) -> Result<(Profile, sotto_relay_config::LocalStack), ProfileError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|source| ProfileError::Read { path: p.to_owned(), source })?,
        None => LOCAL_PROFILE_TOML.to_string(),
    };
    let source = path.map(Path::to_path_buf).unwrap_or_else(|| "local.toml".into());
    // The measurements are not checked: the gateway writes them as it starts.
    let parsed = Profile::parse_structure(&text, &source)?;
    let stack = parsed.local_stack.clone().ok_or_else(|| ProfileError::Invalid {
        path: source.clone(),
        field: "local_stack".into(),
        problem: "this profile has no [local_stack] section, so there is nothing to start here".into(),
    })?;
    Ok((parsed, stack))
}
