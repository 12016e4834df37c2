from django.db import migrations

TOPICS = [
    ("AI tools", "Generative AI assistants, prompting, and where AI helps or misleads in daily work."),
    ("Social media", "How platforms work, personal brand, and what younger audiences expect from a company online."),
    ("Digital collaboration", "Chat, shared documents, async work and the etiquette of modern collaboration tools."),
    ("Data literacy", "Reading dashboards, asking good questions of data, spotting a misleading chart."),
    ("Inclusion and belonging", "Lived experience across generations, backgrounds and identities; inclusive leadership."),
    ("Gen Z and millennial expectations", "What younger colleagues and customers expect on purpose, feedback, flexibility and growth."),
    ("Hybrid and remote work", "Running teams across places and time zones; meetings that work for everyone."),
    ("Cybersecurity habits", "Phishing, passwords, MFA and safe habits on personal and work devices."),
    ("Sustainability", "Climate expectations of younger talent and customers; credible action versus greenwashing."),
    ("Mobile-first customers", "How customers discover, compare and buy on their phones."),
    ("Wellbeing at work", "Mental health, boundaries and burnout as younger colleagues see them."),
    ("Personal productivity tools", "Note-taking, automation and shortcuts that save hours a week."),
]


def seed(apps, schema_editor):
    Topic = apps.get_model("programs", "Topic")
    for name, description in TOPICS:
        Topic.objects.get_or_create(name=name, defaults={"description": description})


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
