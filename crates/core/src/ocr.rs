//! Reading a document with Tesseract (Debian's `tesseract-ocr`); PDFs are
//! turned into page images first with `pdftoppm` (Debian's
//! `poppler-utils`). Both are outside programs, run with a time limit in a
//! folder of their own that is removed afterwards. Neither is needed to
//! run Pitwall: without them uploads are `unavailable` and invoices are
//! typed by hand.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use pitwall_domain::ocr::{DocumentType, Reading};
use tokio::process::Command;
use tokio::sync::OnceCell;

/// `PITWALL_TESSERACT`, `PITWALL_PDFTOPPM`, `PITWALL_OCR_LANG`,
/// `PITWALL_OCR_TIMEOUT_SECS`.
#[derive(Debug, Clone)]
pub struct OcrSettings {
    pub tesseract: PathBuf,
    pub pdftoppm: PathBuf,
    /// Tesseract's language (`eng`, `deu+eng`, ...).
    pub language: String,
    /// For the whole document, all pages.
    pub timeout: Duration,
}

impl Default for OcrSettings {
    fn default() -> Self {
        Self {
            tesseract: "tesseract".into(),
            pdftoppm: "pdftoppm".into(),
            language: "eng".into(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// At most this many pages of a PDF are read.
pub const MAX_PAGES: usize = 5;

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OcrError {
    /// A program is missing here: an installation matter, not the file's.
    Unavailable(String),
    /// The file could not be read.
    Failed(String),
}

/// What a document said, page by page.
#[derive(Debug)]
pub struct Read {
    pub reading: Reading,
    pub pages: usize,
    /// The PDF had more pages than were read.
    pub truncated: bool,
    pub took: Duration,
}

/// The reader of this process: settings, and whether Tesseract answers
/// (asked once).
#[derive(Debug, Default)]
pub struct Ocr {
    settings: OcrSettings,
    tesseract_found: OnceCell<bool>,
}

impl Ocr {
    pub fn new(settings: OcrSettings) -> Self {
        Self {
            settings,
            tesseract_found: OnceCell::new(),
        }
    }

    /// Whether Tesseract runs here.
    pub async fn available(&self) -> bool {
        *self
            .tesseract_found
            .get_or_init(|| answers(&self.settings.tesseract, "--version"))
            .await
    }

    /// Reads a PDF, JPEG or PNG.
    pub async fn read(&self, kind: DocumentType, bytes: &[u8]) -> Result<Read, OcrError> {
        if !self.available().await {
            return Err(OcrError::Unavailable(format!(
                "Tesseract ({}) is not installed here",
                self.settings.tesseract.display()
            )));
        }
        let started = Instant::now();
        let dir = Scratch::new().map_err(|e| OcrError::Failed(format!("scratch folder: {e}")))?;
        let input = dir.0.join(format!("upload.{}", kind.extension()));
        tokio::fs::write(&input, bytes)
            .await
            .map_err(|e| OcrError::Failed(format!("scratch file: {e}")))?;
        let work = async {
            let (images, truncated) = match kind {
                DocumentType::Pdf => self.pdf_pages(&dir.0, &input).await?,
                _ => (vec![input.clone()], false),
            };
            let mut reading = Reading::default();
            for image in &images {
                reading.append(Reading::from_tsv(&self.tesseract(image).await?));
            }
            Ok(Read {
                reading,
                pages: images.len(),
                truncated,
                took: started.elapsed(),
            })
        };
        match tokio::time::timeout(self.settings.timeout, work).await {
            Ok(read) => read,
            Err(_) => Err(OcrError::Failed(format!(
                "reading took longer than {} s",
                self.settings.timeout.as_secs()
            ))),
        }
    }

    /// Page images of a PDF at 300 dpi in grey (what Tesseract reads
    /// best), the first [`MAX_PAGES`]. One page more is rendered only to
    /// learn that there is one.
    async fn pdf_pages(&self, dir: &Path, pdf: &Path) -> Result<(Vec<PathBuf>, bool), OcrError> {
        let prefix = dir.join("page");
        let out = Command::new(&self.settings.pdftoppm)
            .args(["-r", "300", "-gray", "-png", "-f", "1", "-l"])
            .arg((MAX_PAGES + 1).to_string())
            .arg(pdf)
            .arg(&prefix)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => OcrError::Unavailable(format!(
                    "PDFs need pdftoppm (Debian's poppler-utils), not found as {}",
                    self.settings.pdftoppm.display()
                )),
                _ => OcrError::Failed(format!("pdftoppm: {e}")),
            })?;
        if !out.status.success() {
            return Err(OcrError::Failed(format!(
                "is not a readable PDF ({})",
                first_line(&out.stderr)
            )));
        }
        let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| OcrError::Failed(format!("scratch folder: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("page-") && n.ends_with(".png"))
            })
            .collect();
        // pdftoppm pads page numbers to the width of the last one.
        pages.sort();
        if pages.is_empty() {
            return Err(OcrError::Failed("has no pages".into()));
        }
        let truncated = pages.len() > MAX_PAGES;
        pages.truncate(MAX_PAGES);
        Ok((pages, truncated))
    }

    async fn tesseract(&self, image: &Path) -> Result<String, OcrError> {
        let out = Command::new(&self.settings.tesseract)
            .arg(image)
            .arg("stdout")
            .args(["-l", &self.settings.language, "--psm", "3", "tsv"])
            .env("OMP_THREAD_LIMIT", "1")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => {
                    OcrError::Unavailable("Tesseract is not installed here".into())
                }
                _ => OcrError::Failed(format!("tesseract: {e}")),
            })?;
        if !out.status.success() {
            return Err(OcrError::Failed(format!(
                "could not be read ({})",
                first_line(&out.stderr)
            )));
        }
        String::from_utf8(out.stdout)
            .map_err(|_| OcrError::Failed("tesseract wrote non-UTF-8".into()))
    }
}

async fn answers(program: &Path, arg: &str) -> bool {
    let run = Command::new(program)
        .arg(arg)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .status();
    matches!(
        tokio::time::timeout(Duration::from_secs(10), run).await,
        Ok(Ok(s)) if s.success()
    )
}

fn first_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message");
    line.chars().take(200).collect()
}

/// A folder of its own under the system's temporary folder, removed when
/// dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        let dir = std::env::temp_dir().join(format!("pitwall-ocr-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
