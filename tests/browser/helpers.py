"""What the browser journeys share."""


def sign_in(page, base_url, user, password):
    """Sign in through the login form and wait until the app has let the person in."""
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
