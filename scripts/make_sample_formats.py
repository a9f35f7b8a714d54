"""Write the non-text sample transcripts (docx, vtt, srt, survey csv) in transcripts_sample/.

All content is fictional and written for qcode. Run from the repository root:
    .venv/bin/python scripts/make_sample_formats.py
"""

from pathlib import Path

import docx

OUT = Path("transcripts_sample")
NOTE = "FICTIONAL interview written for qcode's sample data. No real person, organisation or event is described."

WORD = [
    ("Interviewer", "Could you tell me about your role?"),
    (
        "Councillor Reid",
        (
            "I'm the cabinet member for adult social care and health on a district council, and I chair our place"
            " partnership. I've been a councillor for eleven years. Before that I ran a small building firm, which,"
            " you'd be surprised, is decent training for chairing difficult meetings."
        ),
    ),
    ("Interviewer", "What does chairing the place partnership involve?"),
    (
        "Councillor Reid",
        (
            "Mostly listening, and trying to make sure the quiet people get heard. When I took it on, the hospital"
            " people did all the talking, and the rest of us sat there. So the first thing I did was change the order."
            " The community groups speak first on every item, then the council, and the NHS last. The hospital chief"
            " executive was good about it, to be fair to him. He said he'd rather hear what's going on before he opens"
            " his mouth."
        ),
    ),
    ("Interviewer", "Has that changed anything?"),
    (
        "Councillor Reid",
        (
            "It's changed the atmosphere. People will say when something isn't working now. A woman from the carers'"
            " centre told us, straight out, that our new discharge leaflet was useless, and she was right, and nobody"
            " got defensive. A couple of years ago she wouldn't have dared."
        ),
    ),
    ("Interviewer", "What gets in the way?"),
    (
        "Councillor Reid",
        (
            "Our rules, partly. As a council we can't spend money without it going through committee, in public, with"
            " papers out a week before. The NHS can shift money around far quicker. And the officers on both sides"
            " speak different languages. Ours talk about eligibility and statutory duties, theirs talk about pathways"
            " and activity. I sometimes feel like a translator."
        ),
    ),
    ("Interviewer", "And between the organisations' aims?"),
    (
        "Councillor Reid",
        (
            "Well, we're trying to balance a budget that's been cut year on year, and the hospital is trying to empty"
            " its beds. Those don't always sit together. If they discharge someone into a care home because it's"
            " quickest, that's us paying for years. So there's always a bit of a tug of war about what the right answer"
            " is for a particular person."
        ),
    ),
    ("Interviewer", "Thank you. Anything else?"),
    (
        "Councillor Reid",
        "Only that I've enjoyed it more than I expected. And the biscuits at the hospital are better than ours.",
    ),
]

VTT_TURNS = [
    ("Interviewer", ["Thanks for joining the call.", "Can you say a bit about your role?"]),
    (
        "Tom Becker",
        [
            "Sure. I lead the community therapy service in a community trust.",
            "About two hundred staff, physios, OTs, speech and language therapists.",
        ],
    ),
    ("Interviewer", ["How do you work with the council's reablement team?"]),
    (
        "Tom Becker",
        [
            (
                "Much more closely than we did. Two years ago we were basically competing for the same patients and"
                " arguing about who should see whom."
            ),
            "We sat down, the reablement manager and I, and went through twenty cases together.",
            "It turned out we agreed on most of them. The arguments were about three or four complicated ones.",
            (
                "So now there's one joint triage meeting every morning, and if we disagree about a case we say so there"
                " and sort it out on the spot."
            ),
        ],
    ),
    ("Interviewer", ["What's still difficult?"]),
    (
        "Tom Becker",
        [
            (
                "Honestly, the systems. Their staff can't see our notes and we can't see theirs, so people end up"
                " phoning each other to read bits out."
            ),
            "And the staff are on different contracts, different pay, different rules about who can do what.",
            "We wanted a single therapy assistant role across both teams and the HR side just couldn't make it work.",
        ],
    ),
    ("Interviewer", ["Do you worry about the service changing?"]),
    (
        "Tom Becker",
        [
            (
                "Some of my team do. There's a fear that if we merge with reablement, therapy will get swallowed up and"
                " they'll end up managed by social care and lose their professional standing."
            ),
            "I understand it, but I don't think it has to go that way.",
        ],
    ),
]

SRT_TURNS = [
    ("I", ["What does your organisation do?"]),
    (
        "R",
        [
            "We're a carers' support charity. Advice, respite, peer groups, that sort of thing.",
            "Eleven staff and a lot of volunteers.",
        ],
    ),
    ("I", ["How do you find working with the bigger organisations?"]),
    (
        "R",
        [
            (
                "Better than it was. The ICB gave the carers' organisations a seat on the programme board with a proper"
                " vote."
            ),
            "And decisions about the carers' budget are now made jointly, by a panel that includes carers themselves.",
            "Before, we'd just get told what the money was for.",
        ],
    ),
    ("I", ["And the relationships?"]),
    (
        "R",
        [
            "That's the bit that really matters. I know the hospital discharge lead by her first name now.",
            (
                "If a carer is about to be landed with someone coming home with no support, I can ring her and she'll"
                " pick up."
            ),
            "That took years of turning up to things and being useful.",
        ],
    ),
]

SURVEY = [
    (
        "S001",
        "icb",
        "Senior manager",
        (
            "Honestly the thing that made it work was that we all agreed we were there for the residents, not our own"
            " organisations. Once that was clear, the budget arguments got easier."
        ),
    ),
    (
        "S002",
        "nhs_provider",
        "Director",
        "Information governance. Every time we try to share a record it takes months of legal back-and-forth.",
    ),
    (
        "S003",
        "vcse",
        "Chief executive",
        "We are still treated as the junior partner. We get invited late and asked to deliver on tiny budgets.",
    ),
    (
        "S004",
        "local_government",
        "Head of service",
        (
            "Our members have to approve everything in public committee, the NHS can decide in private session, and the"
            " timing never lines up."
        ),
    ),
    (
        "S005",
        "vcse",
        "Service manager",
        (
            "The small charities are frightened of being swallowed by the big ones in the alliance and losing their"
            " identity."
        ),
    ),
    (
        "S006",
        "icb",
        "Programme lead",
        (
            "We set up a joint committee with delegated budget, so decisions happen once instead of going round four"
            " boards."
        ),
    ),
    (
        "S007",
        "nhs_provider",
        "Clinical lead",
        (
            "Having regular informal catch-ups with the council leads has made a real difference. I can pick up the"
            " phone now."
        ),
    ),
    (
        "S008",
        "local_government",
        "Director",
        "They are measured on waiting times and we are measured on balancing the budget. It pulls us apart.",
    ),
    ("S009", "vcse", "Volunteer coordinator", "Not much to add, the survey is quite long."),
    (
        "S010",
        "nhs_provider",
        "Matron",
        (
            "When we disagreed about discharges we finally put it on the table, with a facilitator, and worked it"
            " through. Better than the sniping."
        ),
    ),
    (
        "S011",
        "icb",
        "Director",
        (
            "People can say when they have got something wrong now without being hung out to dry. That took a long time"
            " to build."
        ),
    ),
    (
        "S012",
        "local_government",
        "Commissioner",
        (
            "The acute trust is so big that it flattens the conversation. We have started rotating the chair to deal"
            " with that."
        ),
    ),
    ("S013", "vcse", "Manager", ""),
    (
        "S014",
        "nhs_provider",
        "Finance lead",
        "Nobody wants to be the first to put money in the pooled fund in case they lose control of it.",
    ),
    (
        "S015",
        "local_government",
        "Public health consultant",
        (
            "Residents sit on the grants panel and have the majority vote. It was scary for us but the decisions are"
            " better."
        ),
    ),
]


def main() -> None:
    d = docx.Document()
    d.add_paragraph(NOTE).runs[0].italic = True
    for who, words in WORD:
        p = d.add_paragraph()
        p.add_run(who).bold = True
        p.add_run("  " + words)
    table = d.add_table(rows=2, cols=2)
    for (r, c), text in {(0, 0): "Date", (0, 1): "(fictional)", (1, 0): "Interviewer", (1, 1): "Researcher B"}.items():
        table.cell(r, c).text = text
    d.core_properties.author = "qcode"
    d.core_properties.created = d.core_properties.modified = __import__("datetime").datetime(2026, 1, 1)
    d.save(OUT / "local_government_03.docx")

    t, lines = 1.0, ["WEBVTT", "", "NOTE " + NOTE, ""]
    for who, cues in VTT_TURNS:
        for cue in cues:
            dur = round(len(cue.split()) * 0.4 + 0.6, 1)
            lines += [f"{stamp(t, '.')} --> {stamp(t + dur, '.')}", f"<v {who}>{cue}", ""]
            t = round(t + dur + 0.4, 1)
    (OUT / "nhs_provider_03.vtt").write_text("\n".join(lines), encoding="utf-8")

    t, lines, n = 2.0, [], 1
    for who, cues in SRT_TURNS:
        for i, cue in enumerate(cues):
            dur = round(len(cue.split()) * 0.4 + 0.6, 1)
            text = f"{who}: {cue}" if i == 0 else cue
            lines += [str(n), f"{stamp(t, ',')} --> {stamp(t + dur, ',')}", text, ""]
            n += 1
            t = round(t + dur + 0.5, 1)
    (OUT / "vcse_03.srt").write_text("\n".join(lines), encoding="utf-8")

    import csv

    with open(OUT / "survey_open_answers.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["respondent_id", "sector", "role", "response"])
        for row in SURVEY:
            w.writerow(row)


def stamp(seconds: float, sep: str) -> str:
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


if __name__ == "__main__":
    main()
