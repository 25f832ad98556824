"""Drives the Whippet web console in headless Chromium (Debian's /usr/bin/chromium through
Playwright) and checks what an operator would look at: the topic list shows TOPIC with its high
watermark, the message browser shows the produced JSON message pretty-printed with its key, and
the consumer groups view shows GROUP with lag LAG; a topic created in the console appears and
goes again when deleted there; the throughput view samples. Any uncaught page error fails.

Usage: console_check.py URL TOPIC KEY FIELD VALUE GROUP LAG; prints OK and exits 0 on success.
"""
import sys

from playwright.sync_api import expect, sync_playwright

TIMEOUT_MS = 20_000


def main():
    url, topic, key, field, value, group, lag = sys.argv[1:8]
    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox"]
        )
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(url)

        heading = page.locator("h3.topic", has_text=topic)
        expect(heading).to_be_visible(timeout=TIMEOUT_MS)
        expect(page.locator("#cluster")).to_contain_text("topics", timeout=TIMEOUT_MS)

        page.click("nav button[data-view=messages]")
        page.select_option("#browse-topic", label=topic)
        page.fill("#browse input[name=partition]", "0")
        page.fill("#browse input[name=offset]", "0")
        page.select_option("#browse-format", value="json")
        page.click("#browse button[type=submit]")
        pretty = f'"{field}": "{value}"'
        expect(page.locator("#messages pre.value").first).to_contain_text(pretty, timeout=TIMEOUT_MS)
        expect(page.locator("#messages tbody tr").first).to_contain_text(key)

        page.click("nav button[data-view=groups]")
        row = page.locator("#kafka-groups tbody tr", has_text=group).first
        expect(row).to_be_visible(timeout=TIMEOUT_MS)
        expect(row.locator("td").last).to_have_text(lag)

        # Create a topic from the console, then delete it (accepting the confirmation).
        page.click("nav button[data-view=topics]")
        page.fill("#create-topic input[name=name]", "made-in-console")
        page.click("#create-topic button[type=submit]")
        made = page.locator("h3.topic", has_text="made-in-console")
        expect(made).to_be_visible(timeout=TIMEOUT_MS)
        page.on("dialog", lambda dialog: dialog.accept())
        made.locator("button").click()
        expect(made).to_have_count(0, timeout=TIMEOUT_MS)

        page.click("nav button[data-view=throughput]")
        expect(page.locator("#rate")).to_contain_text("messages/s", timeout=TIMEOUT_MS)
        browser.close()
    if errors:
        print("page errors:", errors)
        sys.exit(1)
    print("OK")


if __name__ == "__main__":
    main()
