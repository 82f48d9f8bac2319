//! `keyward completions SHELL` and `keyward man [DIR]`: shell completions and man pages
//! generated from the CLI definition itself, so they cannot drift from it.

use std::path::{Path, PathBuf};

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Args)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    pub shell: Shell,
}

#[derive(Args)]
pub struct ManArgs {
    /// Write keyward.1 and one page per subcommand (keyward-key-rotate.1 …) into this
    /// directory; without it, print keyward.1 on stdout.
    pub dir: Option<PathBuf>,
}

/// Print the completion script for `args.shell` on stdout.
pub fn completions<C: CommandFactory>(args: &CompletionsArgs) -> Result<(), String> {
    let mut cmd = C::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "keyward", &mut script);
    print(&script)
}

/// Write to stdout; a reader that went away (`| head`) is not an error.
fn print(bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

/// Print the main page, or write every page into a directory.
pub fn man<C: CommandFactory>(args: &ManArgs) -> Result<(), String> {
    let cmd = C::command().name("keyward");
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut page)
                .map_err(|e| e.to_string())?;
            print(&page)
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            write_pages(cmd, dir, "keyward")
        }
    }
}

fn write_pages(cmd: clap::Command, dir: &Path, name: &str) -> Result<(), String> {
    let path = dir.join(format!("{name}.1"));
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone().name(name.to_owned()))
        .render(&mut out)
        .map_err(|e| e.to_string())?;
    std::fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        write_pages(sub.clone(), dir, &format!("{name}-{}", sub.get_name()))?;
    }
    Ok(())
}
