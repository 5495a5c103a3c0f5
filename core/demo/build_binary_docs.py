"""Regenerate the binary demo documents from text held in this script.

Produces, in ``core/demo/corpus/``:

* ``hr_handbook.docx``  - the Lumora employee handbook (python-docx)
* ``product_manual.pdf`` - the AeroPure 300 air purifier manual (fpdf2)

The generated files are committed, so this script is only needed when the text
below changes. python-docx is a runtime dependency of the app; fpdf2 is NOT:
it is only needed to regenerate the PDF and is deliberately left out of the
requirements files. Install it as a one-off dev tool::

    .venv/bin/pip install fpdf2
    .venv/bin/python -m core.demo.build_binary_docs

Both documents are written with fixed metadata and timestamps, so rebuilding
them from the same text gives byte-identical files.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

CORPUS_DIR = Path(__file__).parent / "corpus"

# Fixed timestamp for document metadata, so rebuilds do not change it.
_FIXED_DATE = datetime(2024, 3, 1, tzinfo=timezone.utc)

# Each document is a list of (kind, text) blocks.
# kind: "title", "h1", "h2", "p", "bullet", "kv" (text is "Key: value"), "qa"
# (text is "Q: ...\nA: ...").

HR_HANDBOOK: list[tuple[str, str]] = [
    ("title", "Lumora Home Appliances - Employee Handbook"),
    ("kv", "Document owner: People & Culture (HR)"),
    ("kv", "Version: 2024.1"),
    ("kv", "HR contact: hr@lumora.example, extension 2200"),
    ("p", "This handbook summarises the main employment rules for all Lumora "
          "employees in the head office, the warehouse and the repair centre. "
          "Where an employment contract says something different, the contract "
          "applies."),

    ("h1", "1. Starting at Lumora"),
    ("kv", "Probation period: 3 months"),
    ("p", "Every new employee starts with a probation period of 3 months. Your "
          "manager holds a review meeting at the end of the second month. During "
          "probation, either side may end the employment with 7 days' notice."),
    ("p", "After probation, the notice period is 30 days for both the employee "
          "and the company."),

    ("h1", "2. Working hours and remote work"),
    ("kv", "Standard working hours: 9:00-18:00, Monday to Friday, with a one-hour lunch break"),
    ("kv", "Core hours: 10:00-16:00"),
    ("kv", "Remote work: up to 2 days per week"),
    ("p", "Office employees may work remotely up to 2 days per week, with their "
          "manager's approval. Remote days are agreed in the team calendar by "
          "Friday of the previous week. Warehouse and repair centre staff work "
          "on site."),
    ("p", "During core hours (10:00-16:00) everyone must be reachable, whether "
          "working in the office or remotely."),

    ("h1", "3. Pay and benefits"),
    ("kv", "Payday: the 25th of each month"),
    ("p", "Salaries are paid on the 25th of each month. If the 25th falls on a "
          "weekend or public holiday, salaries are paid on the previous business "
          "day. Payslips are available in the HR portal."),
    ("kv", "Training budget: USD 1,000 per employee per year"),
    ("kv", "Employee discount: 30% on Lumora products, up to 5 products per year"),
    ("kv", "Meal allowance: USD 8 per working day in the office"),

    ("h1", "4. Leave"),
    ("h2", "Annual leave"),
    ("p", "Employees receive 15 days of annual leave after one year of service. "
          "In the first year, employees earn 1 day of leave for each full month "
          "worked, up to 11 days."),
    ("p", "Annual leave must be requested in the HR portal at least 5 working "
          "days in advance. Up to 5 unused days may be carried over to the next "
          "year; carried-over days expire on 31 March."),
    ("h2", "Sick leave"),
    ("p", "Employees are entitled to up to 10 paid sick days per year. Tell your "
          "manager before 10:00 on the first day of absence. A medical "
          "certificate is required for an absence of more than 3 consecutive "
          "days."),
    ("h2", "Family leave"),
    ("p", "Maternity leave is 90 days, fully paid. Paternity leave is 10 working "
          "days, fully paid, and must be taken within 90 days of the child's "
          "birth."),
    ("kv", "Bereavement leave: 5 days for an immediate family member"),
    ("kv", "Wedding leave: 3 days"),

    ("h1", "5. Performance and development"),
    ("p", "Performance reviews take place twice a year, in June and December. "
          "Salary adjustments take effect in January."),
    ("p", "The training budget may be used for courses, conferences and "
          "certifications related to your role. Requests above USD 500 need "
          "approval from your department head."),

    ("h1", "6. Frequently asked questions"),
    ("qa", "Q: Can I work remotely three days in one week?\n"
           "A: No. The limit is 2 remote days per week."),
    ("qa", "Q: Where do I request leave?\n"
           "A: In the HR portal, at least 5 working days in advance."),
    ("qa", "Q: Who do I contact about my payslip?\n"
           "A: Email hr@lumora.example or call extension 2200."),
]

PRODUCT_MANUAL: list[tuple[str, str]] = [
    ("title", "AeroPure 300 Air Purifier - User Manual"),
    ("p", "Lumora Home Appliances. Please read this manual before first use and "
          "keep it for future reference."),

    ("h1", "1. Models and specifications"),
    ("kv", "AP-300: AeroPure 300, white"),
    ("kv", "AP-300B: AeroPure 300, black"),
    ("kv", "AP-300W: AeroPure 300 Wi-Fi, white, with Lumora Home app control"),
    ("kv", "Room size: up to 40 square metres"),
    ("kv", "Clean air delivery rate (CADR): 300 m3/h"),
    ("kv", "Filter: 3-stage (washable pre-filter, H13 HEPA, activated carbon), part number FLT-300"),
    ("kv", "Power supply: 220-240 V, 50/60 Hz"),
    ("kv", "Power consumption: 45 W (maximum)"),
    ("kv", "Noise level: 24 dB (sleep mode) to 52 dB (turbo mode)"),
    ("kv", "Weight: 5.8 kg"),

    ("h1", "2. Safety instructions"),
    ("bullet", "Place the purifier on a flat, stable surface at least 30 cm away from walls and furniture."),
    ("bullet", "Do not use the purifier in bathrooms or other wet or humid rooms."),
    ("bullet", "Always unplug the purifier before cleaning it or changing the filter."),
    ("bullet", "Do not block the air inlet or outlet, and do not sit on the unit."),
    ("bullet", "Do not use the purifier near gas appliances, heaters or open flames."),
    ("bullet", "Children must not play with the purifier. Use the child lock when children are present."),
    ("bullet", "If the power cord is damaged, stop using the purifier and contact Lumora customer service."),

    ("h1", "3. Operation"),
    ("p", "Press the Power button to switch on. Press the Mode button to cycle "
          "through Auto, Sleep and Turbo modes. In Auto mode the fan speed "
          "follows the air quality sensor. The air quality light shows blue "
          "(good), yellow (moderate) or red (poor)."),
    ("p", "Child lock: hold the Lock button for 3 seconds to lock or unlock the "
          "control panel."),
    ("p", "Timer: press the Timer button to set 2, 4 or 8 hours."),

    ("h1", "4. Filter replacement"),
    ("p", "Replace the filter every 6 months. The filter indicator light turns "
          "red when the filter needs replacing. Use only genuine Lumora FLT-300 "
          "filters."),
    ("p", "To replace the filter: unplug the purifier, remove the back cover, "
          "pull out the old filter, remove the plastic wrapping from the new "
          "filter, insert it with the pull tab facing out, and refit the cover."),
    ("p", "After replacing the filter, hold the Filter button for 5 seconds to "
          "reset the filter indicator."),

    ("h1", "5. Cleaning and maintenance"),
    ("p", "Clean the pre-filter every 2 weeks with a vacuum cleaner or rinse it "
          "under running water. Let it dry completely (at least 24 hours) before "
          "refitting it. The HEPA and carbon filter must not be washed."),
    ("p", "Wipe the outside of the unit with a soft, dry cloth. Clean the air "
          "quality sensor lens every 2 months with a dry cotton swab."),

    ("h1", "6. Error codes"),
    ("kv", "E1: Filter not installed or back cover open. Check that the filter and cover are fitted correctly."),
    ("kv", "E2: Fan motor fault. Unplug for 1 minute and restart; if E2 remains, contact customer service."),
    ("kv", "E3: Air quality sensor error. Clean the sensor lens; if E3 remains, contact customer service."),
    ("kv", "E4: Wi-Fi connection failed (AP-300W only). Restart the router and reconnect in the Lumora Home app."),

    ("h1", "7. Troubleshooting"),
    ("qa", "Q: The purifier smells after a few months.\n"
           "A: The activated carbon layer is saturated. Replace the filter."),
    ("qa", "Q: The air quality light stays red.\n"
           "A: Close windows, run Turbo mode for 30 minutes, and clean the sensor lens."),

    ("h1", "8. Warranty"),
    ("p", "The AeroPure 300 has a 2-year warranty from the date of purchase. "
          "Filters are consumables and are not covered by the warranty."),
]


def build_docx(path: Path) -> None:
    """Write the HR handbook as a DOCX file."""
    import docx  # python-docx

    document = docx.Document()
    core = document.core_properties
    core.title = "Lumora Employee Handbook"
    core.author = "Lumora People & Culture"
    core.created = _FIXED_DATE
    core.modified = _FIXED_DATE
    core.last_modified_by = "Lumora People & Culture"
    core.revision = 1

    for kind, text in HR_HANDBOOK:
        if kind == "title":
            document.add_heading(text, level=0)
        elif kind == "h1":
            document.add_heading(text, level=1)
        elif kind == "h2":
            document.add_heading(text, level=2)
        elif kind == "bullet":
            document.add_paragraph(text, style="List Bullet")
        elif kind == "kv":
            key, value = text.split(": ", 1)
            para = document.add_paragraph()
            para.add_run(key + ": ").bold = True
            para.add_run(value)
        elif kind == "qa":
            for line in text.split("\n"):
                para = document.add_paragraph()
                para.add_run(line).bold = line.startswith("Q:")
        else:
            document.add_paragraph(text)
    document.save(str(path))
    _normalise_zip_timestamps(path)


def _normalise_zip_timestamps(path: Path) -> None:
    """Rewrite a DOCX (zip) with fixed entry timestamps so rebuilds are byte-identical."""
    import zipfile

    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info.filename)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 3, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)


def build_pdf(path: Path) -> None:
    """Write the product manual as a PDF file (needs fpdf2, a dev-only tool)."""
    try:
        from fpdf import FPDF
    except ImportError as exc:  # pragma: no cover - dev tool only
        raise SystemExit(
            "fpdf2 is needed only to regenerate the PDF: .venv/bin/pip install fpdf2"
        ) from exc

    pdf = FPDF(format="A4")
    pdf.set_title("AeroPure 300 Air Purifier - User Manual")
    pdf.set_author("Lumora Home Appliances")
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_auto_page_break(auto=True, margin=18)
    pdf.set_margins(20, 20, 20)
    pdf.add_page()

    def write(text: str, size: float, style: str = "", gap: float = 1.5) -> None:
        pdf.set_font("Helvetica", style=style, size=size)
        pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    for kind, text in PRODUCT_MANUAL:
        if kind == "title":
            write(text, 18, "B", 4)
        elif kind == "h1":
            pdf.ln(2)
            write(text, 13, "B", 1.5)
        elif kind == "h2":
            write(text, 11.5, "B", 1)
        elif kind == "bullet":
            write("- " + text, 10.5, "", 0.8)
        elif kind == "kv":
            write(text, 10.5, "", 0.8)
        elif kind == "qa":
            question, answer = text.split("\n", 1)
            write(question, 10.5, "B", 0.3)
            write(answer, 10.5, "", 1.5)
        else:
            write(text, 10.5, "", 2)
    pdf.output(str(path))


def main() -> None:
    CORPUS_DIR.mkdir(parents=True, exist_ok=True)
    docx_path = CORPUS_DIR / "hr_handbook.docx"
    pdf_path = CORPUS_DIR / "product_manual.pdf"
    build_docx(docx_path)
    build_pdf(pdf_path)
    for p in (docx_path, pdf_path):
        print(f"wrote {p} ({p.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
