<?php
/**
 * Tools → Privacy Sync → Find a person (issue 16.1). The page cannot ask the daemon and wait,
 * so the lookup is asynchronous: the form records a lookup.requested event in the outbox (the
 * email travels as every outbox email does: plain until the daemon acknowledges the event, then
 * replaced by the daemon's keyed hash), the daemon answers within its poll interval with
 * POST /lookups (keyed hash only), the page shows "looking up…" until the answer is there and
 * keeps the answer for LOOKUP_TTL seconds. The email is never in a URL, an option, a transient
 * or a log.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The person view and its lookup.
 */
class Wpprivsync_Admin_Person {

	/** Seconds a lookup (and its answer) is kept. */
	const LOOKUP_TTL = 600;
	/** Seconds after which a lookup without an answer is reported as unanswered. */
	const ANSWER_WAIT = 120;
	/** Largest answer kept (bytes of JSON). */
	const ANSWER_MAX = 262144;

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		add_action( 'admin_post_wpprivsync_lookup', array( __CLASS__, 'handle_lookup' ) );
	}

	/**
	 * The transient of a lookup.
	 *
	 * @param string $id Lookup id.
	 * @return string
	 */
	private static function key( $id ) {
		return 'wpprivsync_lookup_' . $id;
	}

	/**
	 * The lookup form's post: one outbox event, then the person view waiting for its answer.
	 */
	public static function handle_lookup() {
		if ( ! Wpprivsync_Admin_Caps::can( 'wpprivsync_lookup' ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'wpprivsync' ), 403 );
		}
		check_admin_referer( 'wpprivsync_lookup' );
		$email = isset( $_POST['email'] ) ? Wpprivsync_Plugin::normalise_email( sanitize_text_field( wp_unslash( $_POST['email'] ) ) ) : '';
		if ( ! is_email( $email ) ) {
			wp_safe_redirect( add_query_arg( 'wpprivsync_notice', 'bad_email', Wpprivsync_Admin_Tabs::url( 'person' ) ) );
			exit;
		}
		$id = wp_generate_password( 24, false, false );
		set_transient(
			self::key( $id ),
			array(
				'user'     => get_current_user_id(),
				'asked_at' => time(),
				'answer'   => null,
			),
			self::LOOKUP_TTL
		);
		$recorded = Wpprivsync_Outbox::record(
			'lookup.requested',
			array(
				'email'     => $email,
				'lookup_id' => $id,
				'source'    => 'admin-page',
			)
		);
		if ( $recorded <= 0 ) {
			delete_transient( self::key( $id ) );
			wp_safe_redirect( add_query_arg( 'wpprivsync_notice', 'not_recorded', Wpprivsync_Admin_Tabs::url( 'person' ) ) );
			exit;
		}
		wp_safe_redirect( Wpprivsync_Admin_Tabs::url( 'person', array( 'lookup' => $id ) ) );
		exit;
	}

	/**
	 * POST /lookups: the daemon's answer.
	 */
	public static function register_routes() {
		register_rest_route(
			Wpprivsync_Plugin::REST_NAMESPACE,
			'/lookups',
			array(
				'methods'             => WP_REST_Server::CREATABLE,
				'callback'            => array( __CLASS__, 'rest_answer' ),
				'permission_callback' => array( 'Wpprivsync_Rest', 'can_sync' ),
				'args'                => array(
					'lookup_id' => array(
						'type'     => 'string',
						'required' => true,
						'pattern'  => '^[A-Za-z0-9]{16,64}$',
					),
					'answer'    => array(
						'type'     => 'object',
						'required' => true,
					),
				),
			)
		);
	}

	/**
	 * Keeps the daemon's answer for the page that asked (404 when no page waits for it).
	 *
	 * @param WP_REST_Request $request Request.
	 * @return WP_REST_Response|WP_Error
	 */
	public static function rest_answer( WP_REST_Request $request ) {
		$key    = self::key( (string) $request['lookup_id'] );
		$lookup = get_transient( $key );
		if ( ! is_array( $lookup ) ) {
			return new WP_Error( 'wpprivsync_no_lookup', __( 'No page waits for this lookup (it expired or never existed).', 'wpprivsync' ), array( 'status' => 404 ) );
		}
		$answer = (array) $request['answer'];
		if ( strlen( (string) wp_json_encode( $answer ) ) > self::ANSWER_MAX ) {
			return new WP_Error( 'wpprivsync_answer_too_large', __( 'The answer is too large.', 'wpprivsync' ), array( 'status' => 413 ) );
		}
		if ( self::carries_an_email( $answer ) ) {
			return new WP_Error( 'wpprivsync_answer_has_email', __( 'A lookup answer must not carry an email address.', 'wpprivsync' ), array( 'status' => 400 ) );
		}
		$lookup['answer']      = $answer;
		$lookup['answered_at'] = time();
		set_transient( $key, $lookup, self::LOOKUP_TTL );
		return rest_ensure_response( array( 'ok' => true ) );
	}

	/**
	 * Whether any string in the answer looks like an email address.
	 *
	 * @param mixed $value Value.
	 * @return bool
	 */
	private static function carries_an_email( $value ) {
		if ( is_array( $value ) ) {
			foreach ( $value as $k => $v ) {
				if ( self::carries_an_email( $k ) || self::carries_an_email( $v ) ) {
					return true;
				}
			}
			return false;
		}
		return is_string( $value ) && (bool) preg_match( '/[^\s@"\'<>(),;:]+@[^\s@"\'<>(),;:]+\.[a-z]{2,}/i', $value );
	}

	/**
	 * The lookup of this request for the current user, or null.
	 *
	 * @return array|null
	 */
	private static function current_lookup() {
		$id = isset( $_GET['lookup'] ) ? sanitize_key( wp_unslash( $_GET['lookup'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- the id is a random capability of its own.
		if ( ! preg_match( '/^[a-z0-9]{16,64}$/i', $id ) ) {
			return null;
		}
		$lookup = get_transient( self::key( $id ) );
		// Another user's lookup is not shown: the id alone is not enough.
		if ( ! is_array( $lookup ) || get_current_user_id() !== (int) $lookup['user'] ) {
			return array( 'missing' => true );
		}
		return $lookup;
	}

	/**
	 * The search form.
	 */
	private static function search_form() {
		?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" id="wpprivsync-lookup-form" class="wpprivsync-form" autocomplete="off">
			<input type="hidden" name="action" value="wpprivsync_lookup" />
			<?php wp_nonce_field( 'wpprivsync_lookup' ); ?>
			<label for="wpprivsync-lookup-email"><?php esc_html_e( 'Email', 'wpprivsync' ); ?></label>
			<input type="email" required name="email" id="wpprivsync-lookup-email" class="regular-text" placeholder="<?php esc_attr_e( 'person@example.com', 'wpprivsync' ); ?>" />
			<button type="submit" class="button button-primary"><?php esc_html_e( 'Find', 'wpprivsync' ); ?></button>
		</form>
		<p class="description"><?php esc_html_e( 'The email is handed to the daemon, matched by its keyed hash and never stored or logged; the answer is kept for 10 minutes.', 'wpprivsync' ); ?></p>
		<?php
	}

	/**
	 * Renders the view.
	 */
	public static function render() {
		$notice = isset( $_GET['wpprivsync_notice'] ) ? sanitize_key( wp_unslash( $_GET['wpprivsync_notice'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- display only.
		if ( 'bad_email' === $notice ) {
			echo '<div id="wpprivsync-notice" class="notice notice-error"><p>' . esc_html__( 'Please enter a valid email address.', 'wpprivsync' ) . '</p></div>';
		} elseif ( 'not_recorded' === $notice ) {
			echo '<div id="wpprivsync-notice" class="notice notice-error"><p>' . esc_html__( 'The request could not be recorded; see the PHP error log.', 'wpprivsync' ) . '</p></div>';
		}
		echo '<h2>' . esc_html__( 'Find a person', 'wpprivsync' ) . '</h2>';
		self::search_form();
		$lookup = self::current_lookup();
		if ( null === $lookup ) {
			return;
		}
		echo '<div id="wpprivsync-person" data-state="' . esc_attr( self::state( $lookup ) ) . '">';
		if ( ! empty( $lookup['missing'] ) ) {
			echo '<p class="notice notice-warning inline">' . esc_html__( 'This lookup has expired (answers are kept 10 minutes): search again.', 'wpprivsync' ) . '</p>';
		} elseif ( null === $lookup['answer'] ) {
			$waited = time() - (int) $lookup['asked_at'];
			if ( $waited < self::ANSWER_WAIT ) {
				// The page reloads itself until the daemon has answered (no script needed).
				echo '<meta http-equiv="refresh" content="3" />';
				echo '<p class="wpprivsync-looking-up" role="status"><span class="spinner is-active" style="float:none"></span> ' . esc_html__( 'Looking up... the daemon answers within its poll interval; this page reloads by itself.', 'wpprivsync' ) . '</p>';
			} else {
				$beat = Wpprivsync_Rest::last_heartbeat();
				/* translators: 1: seconds waited, 2: seconds since the last heartbeat. */
				$text = $beat ? sprintf( __( 'No answer from the daemon after %1$d seconds. Its last heartbeat was %2$d seconds ago: it may be busy or stopped.', 'wpprivsync' ), $waited, (int) $beat['age_s'] ) : sprintf( __( 'No answer from the daemon after %d seconds, and it has never reported: is it running?', 'wpprivsync' ), $waited );
				echo '<p class="notice notice-error inline" id="wpprivsync-lookup-timeout">' . esc_html( $text ) . '</p>';
			}
		} else {
			Wpprivsync_Admin_Person_View::render( (array) $lookup['answer'] );
		}
		echo '</div>';
	}

	/**
	 * The lookup's state, for tests and screen readers: waiting|answered|timeout|expired.
	 *
	 * @param array $lookup Lookup.
	 * @return string
	 */
	private static function state( array $lookup ) {
		if ( ! empty( $lookup['missing'] ) ) {
			return 'expired';
		}
		if ( null !== $lookup['answer'] ) {
			return 'answered';
		}
		return time() - (int) $lookup['asked_at'] < self::ANSWER_WAIT ? 'waiting' : 'timeout';
	}
}
