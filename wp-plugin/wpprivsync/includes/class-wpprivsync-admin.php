<?php
/**
 * Tools → Privacy Sync: the daemon's health, failed work, recent requests, the webhook URL and
 * forms that hand erasure/export/comment removal to the daemon.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * The admin page.
 */
class Wpprivsync_Admin {

	const PAGE = 'wpprivsync';
	/** A heartbeat older than this shows red. */
	const STALE_AFTER_S = 300;

	/** Form actions: admin-post action => [nonce action, event type or handler]. */
	const ACTIONS = array(
		'wpprivsync_erase'           => 'erasure.requested',
		'wpprivsync_export'          => 'export.requested',
		'wpprivsync_remove_comments' => 'comments.removal_requested',
	);

	/**
	 * Adds the hooks.
	 */
	public static function register() {
		add_action( 'admin_menu', array( __CLASS__, 'add_page' ) );
		add_action( 'admin_enqueue_scripts', array( __CLASS__, 'enqueue' ) );
		foreach ( array_keys( self::ACTIONS ) as $action ) {
			add_action( 'admin_post_' . $action, array( __CLASS__, 'handle_email_form' ) );
		}
		add_action( 'admin_post_wpprivsync_retry', array( __CLASS__, 'handle_retry' ) );
		add_action( 'admin_post_wpprivsync_rotate', array( __CLASS__, 'handle_rotate' ) );
		add_action( 'admin_post_wpprivsync_task_done', array( __CLASS__, 'handle_task_done' ) );
		Wpprivsync_Exports::register();
		add_filter( 'removable_query_args', array( __CLASS__, 'removable_query_args' ) );
		Wpprivsync_Admin_Tabs::register();
	}

	/**
	 * The notice code is shown once: WordPress drops it from the address bar, so a reload
	 * does not repeat "handed to the daemon".
	 *
	 * @param string[] $args Query args WordPress removes after showing the page.
	 * @return string[]
	 */
	public static function removable_query_args( $args ) {
		$args[] = 'wpprivsync_notice';
		return $args;
	}

	/**
	 * Tools → Privacy Sync.
	 */
	public static function add_page() {
		// Core's privacy capabilities, not the daemon's: the service account has no page.
		if ( ! Wpprivsync_Admin_Caps::can_open() ) {
			return;
		}
		add_management_page(
			__( 'Privacy Sync', 'wpprivsync' ),
			__( 'Privacy Sync', 'wpprivsync' ),
			'read',
			self::PAGE,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * The page's stylesheet, on the page only.
	 *
	 * @param string $hook_suffix Admin page hook.
	 */
	public static function enqueue( $hook_suffix ) {
		if ( 'tools_page_' . self::PAGE !== $hook_suffix ) {
			return;
		}
		wp_enqueue_style( 'wpprivsync-admin', plugins_url( 'assets/admin.css', WPPRIVSYNC_FILE ), array(), WPPRIVSYNC_VERSION );
	}

	/**
	 * The page URL, with a notice code.
	 *
	 * @param string $notice Notice code.
	 * @return string
	 */
	private static function page_url( $notice = '' ) {
		$url = admin_url( 'tools.php?page=' . self::PAGE );
		return $notice ? add_query_arg( 'wpprivsync_notice', $notice, $url ) : $url;
	}

	/**
	 * Capability check for a form post (Wpprivsync_Admin_Caps: the capability the action
	 * needs). Each handler checks its nonce itself, right after
	 * this call, with check_admin_referer(): in the handler, where PHPCS's nonce sniff sees it
	 * (and flags a handler that forgets it).
	 *
	 * @param string $action The form's action (names the capability it needs).
	 */
	private static function guard( $action ) {
		if ( ! Wpprivsync_Admin_Caps::can( $action ) ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to do that.', 'wpprivsync' ), 403 );
		}
	}

	/**
	 * The three email forms: each records one outbox event for the daemon.
	 */
	public static function handle_email_form() {
		// The action names the nonce to check, so it is read before the check (only to pick
		// the form: an unknown one is refused, a known one is verified below).
		$action = isset( $_REQUEST['action'] ) ? sanitize_key( wp_unslash( $_REQUEST['action'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- see above.
		if ( ! isset( self::ACTIONS[ $action ] ) ) {
			wp_die( esc_html__( 'Unknown action.', 'wpprivsync' ), 400 );
		}
		self::guard( $action );
		check_admin_referer( $action );
		$email = isset( $_POST['email'] ) ? Wpprivsync_Plugin::normalise_email( sanitize_text_field( wp_unslash( $_POST['email'] ) ) ) : '';
		if ( ! is_email( $email ) ) {
			wp_safe_redirect( self::page_url( 'bad_email' ) );
			exit;
		}
		$payload = array(
			'email'  => $email,
			'source' => 'admin-page',
		);
		if ( 'wpprivsync_erase' === $action ) {
			$payload = array(
				'email'      => $email,
				'request_id' => 0,
				'source'     => 'admin-page',
			);
		}
		$id = Wpprivsync_Outbox::record( self::ACTIONS[ $action ], $payload );
		wp_safe_redirect( self::page_url( $id > 0 ? $action : 'not_recorded' ) );
		exit;
	}

	/**
	 * Retry of one failed step (or all): an event for the daemon.
	 */
	public static function handle_retry() {
		self::guard( 'wpprivsync_retry' );
		check_admin_referer( 'wpprivsync_retry' );
		$step = isset( $_POST['step_id'] ) ? absint( wp_unslash( $_POST['step_id'] ) ) : 0;
		$id   = Wpprivsync_Outbox::record( 'retry.requested', $step > 0 ? array( 'step_id' => $step ) : array( 'all' => true ) );
		wp_safe_redirect( self::page_url( $id > 0 ? 'wpprivsync_retry' : 'not_recorded' ) );
		exit;
	}

	/**
	 * A person closed a manual task: an event for the daemon (the note is required).
	 */
	public static function handle_task_done() {
		self::guard( 'wpprivsync_task_done' );
		check_admin_referer( 'wpprivsync_task_done' );
		$task = isset( $_POST['task_id'] ) ? absint( wp_unslash( $_POST['task_id'] ) ) : 0;
		$note = isset( $_POST['note'] ) ? sanitize_textarea_field( wp_unslash( $_POST['note'] ) ) : '';
		if ( $task <= 0 || '' === trim( $note ) ) {
			wp_safe_redirect( self::page_url( 'bad_task' ) );
			exit;
		}
		$id = Wpprivsync_Outbox::record(
			'task.closed',
			array(
				'task_id' => $task,
				'status'  => 'done',
				'note'    => substr( $note, 0, 2000 ),
			)
		);
		wp_safe_redirect( self::page_url( $id > 0 ? 'wpprivsync_task_done' : 'not_recorded' ) );
		exit;
	}

	/**
	 * New webhook secret.
	 */
	public static function handle_rotate() {
		self::guard( 'wpprivsync_rotate' );
		check_admin_referer( 'wpprivsync_rotate' );
		Wpprivsync_Webhook::rotate();
		wp_safe_redirect( self::page_url( 'wpprivsync_rotate' ) );
		exit;
	}

	/**
	 * Notice texts.
	 *
	 * @return array code => [class, text]
	 */
	private static function notices() {
		return array(
			'wpprivsync_erase'           => array( 'success', __( 'Erasure everywhere was handed to the daemon.', 'wpprivsync' ) ),
			'wpprivsync_export'          => array( 'success', __( 'Export everywhere was handed to the daemon.', 'wpprivsync' ) ),
			'wpprivsync_remove_comments' => array( 'success', __( 'Comment removal was handed to the daemon.', 'wpprivsync' ) ),
			'wpprivsync_retry'           => array( 'success', __( 'Retry was handed to the daemon.', 'wpprivsync' ) ),
			'wpprivsync_rotate'          => array( 'warning', __( 'New webhook URL: paste it into ActiveCampaign; the old one no longer works.', 'wpprivsync' ) ),
			'bad_email'                  => array( 'error', __( 'Please enter a valid email address.', 'wpprivsync' ) ),
			'wpprivsync_task_done'       => array( 'success', __( 'The task was handed to the daemon as done.', 'wpprivsync' ) ),
			'bad_task'                   => array( 'error', __( 'Say what was done: a note is required to close a task.', 'wpprivsync' ) ),
			'not_recorded'               => array( 'error', __( 'The request could not be recorded; see the PHP error log.', 'wpprivsync' ) ),
		);
	}

	/**
	 * A form posting to admin-post.php with a nonce.
	 *
	 * @param string $action  Action.
	 * @param string $id      Element id.
	 * @param string $label   Button label.
	 * @param string $fields  Extra field HTML (already escaped).
	 * @param string $class   Button class.
	 */
	private static function form( $action, $id, $label, $fields = '', $class = 'button button-primary' ) {
		?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" id="<?php echo esc_attr( $id ); ?>" class="wpprivsync-form">
			<input type="hidden" name="action" value="<?php echo esc_attr( $action ); ?>" />
			<?php wp_nonce_field( $action ); ?>
			<?php echo $fields; // phpcs:ignore WordPress.Security.EscapeOutput.OutputNotEscaped -- built from escaped parts. ?>
			<button type="submit" class="<?php echo esc_attr( $class ); ?>"><?php echo esc_html( $label ); ?></button>
		</form>
		<?php
	}

	/**
	 * A time the daemon sent (ISO 8601) in the site's date and time format and time zone; the
	 * text as sent when it is not a time.
	 *
	 * @param mixed $iso Time from the heartbeat.
	 * @return string
	 */
	private static function when( $iso ) {
		$ts = is_string( $iso ) && '' !== $iso ? strtotime( $iso ) : false;
		return false === $ts ? (string) $iso : wp_date( get_option( 'date_format' ) . ' ' . get_option( 'time_format' ), $ts );
	}

	/**
	 * Renders the page.
	 */
	public static function render() {
		if ( ! Wpprivsync_Admin_Caps::can_open() ) {
			wp_die( esc_html__( 'Sorry, you are not allowed to access this page.', 'wpprivsync' ), 403 );
		}
		$tab = Wpprivsync_Admin_Tabs::current();
		if ( 'overview' !== $tab ) {
			Wpprivsync_Admin_Tabs::render( $tab );
			return;
		}
		$beat    = Wpprivsync_Rest::last_heartbeat();
		$pending = Wpprivsync_Outbox::pending_count();
		$notice  = isset( $_GET['wpprivsync_notice'] ) ? sanitize_key( wp_unslash( $_GET['wpprivsync_notice'] ) ) : ''; // phpcs:ignore WordPress.Security.NonceVerification.Recommended -- display only.
		$notices = self::notices();
		$fresh   = $beat && $beat['age_s'] <= self::STALE_AFTER_S;
		?>
		<div class="wrap" id="wpprivsync-admin">
			<h1><?php esc_html_e( 'Privacy Sync', 'wpprivsync' ); ?></h1>
			<?php Wpprivsync_Admin_Tabs::nav( 'overview' ); ?>
			<?php if ( isset( $notices[ $notice ] ) ) : ?>
				<div id="wpprivsync-notice" class="notice notice-<?php echo esc_attr( $notices[ $notice ][0] ); ?> is-dismissible" data-notice="<?php echo esc_attr( $notice ); ?>"><p><?php echo esc_html( $notices[ $notice ][1] ); ?></p></div>
			<?php endif; ?>

			<h2><?php esc_html_e( 'Daemon', 'wpprivsync' ); ?></h2>
			<table class="widefat striped wpprivsync-status-table">
				<tr>
					<th scope="row"><?php esc_html_e( 'Last heartbeat', 'wpprivsync' ); ?></th>
					<td id="wpprivsync-heartbeat" class="<?php echo esc_attr( $fresh ? 'wpprivsync-ok' : 'wpprivsync-stale' ); ?>" data-age="<?php echo esc_attr( $beat ? (string) $beat['age_s'] : '' ); ?>">
						<?php
						if ( $beat ) {
							/* translators: 1: seconds, 2: daemon version. */
							echo esc_html( sprintf( __( '%1$d s ago (daemon %2$s)', 'wpprivsync' ), $beat['age_s'], $beat['version'] ?? '?' ) );
						} else {
							esc_html_e( 'never: the daemon has not reported yet', 'wpprivsync' );
						}
						?>
					</td>
				</tr>
				<tr>
					<th scope="row"><?php esc_html_e( 'Events waiting for the daemon', 'wpprivsync' ); ?></th>
					<td id="wpprivsync-outbox" data-count="<?php echo esc_attr( (string) $pending ); ?>"><?php echo esc_html( number_format_i18n( $pending ) ); ?></td>
				</tr>
				<tr>
					<th scope="row"><?php esc_html_e( 'Daemon work queue', 'wpprivsync' ); ?></th>
					<td id="wpprivsync-queue" data-count="<?php echo esc_attr( $beat ? (string) (int) $beat['queue'] : '' ); ?>"><?php echo esc_html( $beat ? number_format_i18n( (int) $beat['queue'] ) : '—' ); ?></td>
				</tr>
				<?php if ( $beat && ! empty( $beat['last_error'] ) ) : ?>
				<tr>
					<th scope="row"><?php esc_html_e( 'Last error', 'wpprivsync' ); ?></th>
					<td id="wpprivsync-last-error"><?php echo esc_html( $beat['last_error'] ); ?></td>
				</tr>
				<?php endif; ?>
			</table>

			<h2><?php esc_html_e( 'Failed work', 'wpprivsync' ); ?></h2>
			<div id="wpprivsync-failed">
				<?php $failed = $beat ? (array) $beat['failed'] : array(); ?>
				<?php if ( ! $failed ) : ?>
					<p class="wpprivsync-empty"><?php esc_html_e( 'Nothing has failed.', 'wpprivsync' ); ?></p>
				<?php else : ?>
					<?php self::table_start( array( __( 'Step', 'wpprivsync' ), __( 'System', 'wpprivsync' ), __( 'Action', 'wpprivsync' ), __( 'Error', 'wpprivsync' ), __( 'Attempts', 'wpprivsync' ), '' ) ); ?>
						<?php foreach ( $failed as $step ) : ?>
							<?php $step_id = (int) ( $step['step_id'] ?? 0 ); ?>
							<tr class="wpprivsync-failed-step" data-step-id="<?php echo esc_attr( (string) $step_id ); ?>">
								<td><?php echo esc_html( (string) $step_id ); ?></td>
								<td><?php echo esc_html( (string) ( $step['system'] ?? '' ) ); ?></td>
								<td><?php echo esc_html( (string) ( $step['action'] ?? '' ) ); ?></td>
								<td><?php echo esc_html( (string) ( $step['error'] ?? '' ) ); ?></td>
								<td><?php echo esc_html( (string) (int) ( $step['attempts'] ?? 0 ) ); ?></td>
								<td>
								<?php
								self::form(
									'wpprivsync_retry',
									'wpprivsync-retry-' . $step_id,
									__( 'Retry', 'wpprivsync' ),
									'<input type="hidden" name="step_id" value="' . esc_attr( (string) $step_id ) . '" />',
									'button'
								);
								?>
								</td>
							</tr>
						<?php endforeach; ?>
						</tbody>
					</table>
					<?php self::form( 'wpprivsync_retry', 'wpprivsync-retry-all', __( 'Retry all', 'wpprivsync' ), '', 'button' ); ?>
				<?php endif; ?>
			</div>

			<h2><?php esc_html_e( 'Manual tasks', 'wpprivsync' ); ?></h2>
			<div id="wpprivsync-tasks">
				<?php $tasks = $beat && isset( $beat['tasks'] ) ? (array) $beat['tasks'] : array(); ?>
				<?php if ( ! $tasks ) : ?>
					<p class="wpprivsync-empty"><?php esc_html_e( 'No open tasks.', 'wpprivsync' ); ?></p>
				<?php else : ?>
					<?php self::table_start( array( __( 'Task', 'wpprivsync' ), __( 'System', 'wpprivsync' ), __( 'What to do', 'wpprivsync' ), __( 'Why', 'wpprivsync' ), __( 'Due', 'wpprivsync' ), '' ) ); ?>
						<?php foreach ( $tasks as $task ) : ?>
							<?php
							$task_id = (int) ( $task['id'] ?? 0 );
							$overdue = ! empty( $task['overdue'] );
							?>
							<tr class="wpprivsync-task<?php echo $overdue ? ' wpprivsync-stale' : ''; ?>" data-task-id="<?php echo esc_attr( (string) $task_id ); ?>">
								<td><?php echo esc_html( (string) $task_id ); ?></td>
								<td><?php echo esc_html( (string) ( $task['system'] ?? '' ) ); ?></td>
								<td><?php echo esc_html( (string) ( $task['what'] ?? '' ) ); ?></td>
								<td><?php echo esc_html( (string) ( $task['why'] ?? '' ) ); ?></td>
								<td class="wpprivsync-task-due"><?php echo esc_html( self::when( $task['due_at'] ?? '' ) . ( $overdue ? ' — ' . __( 'overdue', 'wpprivsync' ) : '' ) ); ?></td>
								<td>
								<?php
								self::form(
									'wpprivsync_task_done',
									'wpprivsync-task-done-' . $task_id,
									__( 'Done', 'wpprivsync' ),
									'<input type="hidden" name="task_id" value="' . esc_attr( (string) $task_id ) . '" />'
									. '<input type="text" name="note" required maxlength="2000" placeholder="' . esc_attr__( 'What was done', 'wpprivsync' ) . '" />',
									'button'
								);
								?>
								</td>
							</tr>
						<?php endforeach; ?>
						</tbody>
					</table>
				<?php endif; ?>
			</div>

			<h2><?php esc_html_e( 'Recent requests', 'wpprivsync' ); ?></h2>
			<div id="wpprivsync-requests">
				<?php $requests = $beat ? (array) $beat['requests'] : array(); ?>
				<?php if ( ! $requests ) : ?>
					<p class="wpprivsync-empty"><?php esc_html_e( 'No requests reported by the daemon.', 'wpprivsync' ); ?></p>
				<?php else : ?>
					<table class="widefat striped">
						<thead><tr>
							<th><?php esc_html_e( 'Request', 'wpprivsync' ); ?></th>
							<th><?php esc_html_e( 'Action', 'wpprivsync' ); ?></th>
							<th><?php esc_html_e( 'Person (hash)', 'wpprivsync' ); ?></th>
							<th><?php esc_html_e( 'Received', 'wpprivsync' ); ?></th>
							<th><?php esc_html_e( 'Due', 'wpprivsync' ); ?></th>
							<th><?php esc_html_e( 'Status', 'wpprivsync' ); ?></th>
							<th><?php esc_html_e( 'Systems', 'wpprivsync' ); ?></th>
							<th><?php esc_html_e( 'Orders retained until / export', 'wpprivsync' ); ?></th>
						</tr></thead>
						<tbody>
						<?php foreach ( $requests as $req ) : ?>
							<tr class="wpprivsync-request" data-request-id="<?php echo esc_attr( (string) ( $req['id'] ?? '' ) ); ?>">
								<td><?php echo esc_html( (string) ( $req['id'] ?? '' ) ); ?></td>
								<td><?php echo esc_html( (string) ( $req['action'] ?? '' ) ); ?></td>
								<td><code><?php echo esc_html( substr( (string) ( $req['email_hash'] ?? '' ), 0, 12 ) ); ?></code></td>
								<td><?php echo esc_html( self::when( $req['received_at'] ?? '' ) ); ?></td>
								<td><?php echo esc_html( self::when( $req['due_at'] ?? '' ) ); ?></td>
								<td class="wpprivsync-status"><?php echo esc_html( (string) ( $req['status'] ?? '' ) ); ?></td>
								<td class="wpprivsync-systems">
									<?php foreach ( (array) ( $req['systems'] ?? array() ) as $system => $state ) : ?>
										<span class="wpprivsync-system" data-system="<?php echo esc_attr( (string) $system ); ?>" data-state="<?php echo esc_attr( (string) $state ); ?>"><?php echo esc_html( $system . ': ' . $state ); ?></span><br />
									<?php endforeach; ?>
								</td>
								<td class="wpprivsync-retained-until"><?php echo esc_html( (string) ( $req['retained_until'] ?? '' ) ); ?>
									<?php $wpprivsync_link = empty( $req['export_url'] ) ? '' : Wpprivsync_Exports::link_for( (string) $req['export_url'] ); ?>
									<?php if ( '' !== $wpprivsync_link ) : ?>
										<a class="wpprivsync-export-link" href="<?php echo esc_url( $wpprivsync_link ); ?>"><?php esc_html_e( 'Download export', 'wpprivsync' ); ?></a>
									<?php endif; ?>
								</td>
							</tr>
						<?php endforeach; ?>
						</tbody>
					</table>
				<?php endif; ?>
			</div>

			<?php if ( Wpprivsync_Admin_Caps::can_manage() ) : ?>
				<h2><?php esc_html_e( 'ActiveCampaign webhook', 'wpprivsync' ); ?></h2>
				<p><?php esc_html_e( 'Paste this URL into ActiveCampaign (Settings > Developer > Webhooks) for the events "Unsubscribes" and "Subscribes". Keep it secret: it is the webhook\'s only credential.', 'wpprivsync' ); ?></p>
				<p><input type="text" readonly class="large-text code" id="wpprivsync-webhook-url" value="<?php echo esc_attr( Wpprivsync_Webhook::url() ); ?>" onfocus="this.select()" /></p>
				<?php self::form( 'wpprivsync_rotate', 'wpprivsync-rotate-form', __( 'Rotate webhook URL', 'wpprivsync' ), '', 'button' ); ?>
			<?php endif; ?>

			<h2><?php esc_html_e( 'Act for a person', 'wpprivsync' ); ?></h2>
			<?php
			$email_field = static function ( $id ) {
				return '<label for="' . esc_attr( $id ) . '" class="screen-reader-text">' . esc_html__( 'Email', 'wpprivsync' ) . '</label>'
					. '<input type="email" required name="email" id="' . esc_attr( $id ) . '" class="regular-text" placeholder="' . esc_attr__( 'person@example.com', 'wpprivsync' ) . '" /> ';
			};
		?>
			<?php if ( Wpprivsync_Admin_Caps::can( 'wpprivsync_erase' ) ) : ?>
			<h3><?php esc_html_e( 'Erase everywhere', 'wpprivsync' ); ?></h3>
				<?php self::form( 'wpprivsync_erase', 'wpprivsync-erase-form', __( 'Erase everywhere', 'wpprivsync' ), $email_field( 'wpprivsync-erase-email' ) ); ?>
			<?php endif; ?>
			<?php if ( Wpprivsync_Admin_Caps::can( 'wpprivsync_export' ) ) : ?>
			<h3><?php esc_html_e( 'Export everywhere', 'wpprivsync' ); ?></h3>
				<?php self::form( 'wpprivsync_export', 'wpprivsync-export-form', __( 'Export everywhere', 'wpprivsync' ), $email_field( 'wpprivsync-export-email' ) ); ?>
			<?php endif; ?>
			<?php if ( Wpprivsync_Admin_Caps::can( 'wpprivsync_remove_comments' ) ) : ?>
			<h3><?php esc_html_e( 'Remove comments', 'wpprivsync' ); ?></h3>
				<?php self::form( 'wpprivsync_remove_comments', 'wpprivsync-remove-comments-form', __( 'Remove comments', 'wpprivsync' ), $email_field( 'wpprivsync-remove-comments-email' ) ); ?>
			<?php endif; ?>
			<?php Wpprivsync_Restriction::render_form(); ?>
		</div>
		<?php
	}

	/**
	 * Opens a list table: its header row and the body.
	 *
	 * @param string[] $headers Column headers (translated; '' for an action column).
	 */
	private static function table_start( array $headers ) {
		echo '<table class="widefat striped"><thead><tr>';
		foreach ( $headers as $header ) {
			echo '<th>' . esc_html( $header ) . '</th>';
		}
		echo '</tr></thead><tbody>';
	}
}
